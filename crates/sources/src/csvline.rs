//! One CSV or TSV line split into its fields by a reader built once per source.
//!
//! The adapters meet their files line by line (the import's line reader frames, counts and
//! resumes them), so each line is a record of its own. Building a `csv::Reader` for every
//! line — its parser tables and an 8 KiB buffer — was more than half of a CSV import's
//! time; `csv-core`'s reader is reset and reused instead, with the same dialect: double
//! quotes, `""` inside them, any number of fields.

pub struct LineSplitter {
    reader: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl LineSplitter {
    pub fn new(delimiter: u8) -> LineSplitter {
        LineSplitter { reader: csv_core::ReaderBuilder::new().delimiter(delimiter).build(), out: vec![0; 256], ends: vec![0; 16] }
    }

    /// The fields of one line (without its line ending).
    pub fn split(&mut self, text: &str) -> Result<csv::StringRecord, String> {
        if text.is_empty() {
            return Err("empty line".into());
        }
        self.reader.reset();
        let mut input = text.as_bytes();
        let (mut written, mut fields) = (0, 0);
        loop {
            let (result, read, wrote, ended) = self.reader.read_record(input, &mut self.out[written..], &mut self.ends[fields..]);
            input = &input[read..];
            written += wrote;
            fields += ended;
            match result {
                csv_core::ReadRecordResult::OutputFull => self.out.resize(self.out.len() * 2, 0),
                csv_core::ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                // The line is all there is: an empty input says the record ends here.
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::Record => break,
                csv_core::ReadRecordResult::End => return Err("empty line".into()),
            }
        }
        if !input.is_empty() {
            return Err("not a CSV row: a line break inside the row".into());
        }
        let mut record = csv::StringRecord::with_capacity(written, fields);
        let mut start = 0;
        for &end in &self.ends[..fields] {
            // Fields of a UTF-8 line cut at ASCII quotes and delimiters are UTF-8.
            record.push_field(std::str::from_utf8(&self.out[start..end]).map_err(|e| format!("not a CSV row: {e}"))?);
            start = end;
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::LineSplitter;

    /// Each line split as the csv crate's reader splits it, on the dialect's edges.
    #[test]
    fn lines_split_as_the_csv_reader_splits_them() {
        let lines = [
            "a,b,c",
            "令和6年4月1日,10:00:00,0001,PC-0001,住民票照会,000000001",
            "\"quoted, with comma\",\"doubled \"\"quote\"\"\",plain",
            "trailing,empty,",
            ",",
            "one",
            "\"unterminated,x",
            " spaced , fields ",
            "a\tb,c",
            "x\"y,z",
            "\"\"",
        ];
        for delimiter in [b',', b'\t'] {
            let mut splitter = LineSplitter::new(delimiter);
            for line in lines {
                let expected = csv::ReaderBuilder::new().has_headers(false).delimiter(delimiter).flexible(true).from_reader(line.as_bytes()).records().next().unwrap().unwrap();
                assert_eq!(splitter.split(line).unwrap(), expected, "{line:?} split on {delimiter}");
            }
        }
    }

    #[test]
    fn an_empty_line_is_refused_and_a_long_one_is_whole() {
        let mut splitter = LineSplitter::new(b',');
        assert_eq!(splitter.split("").unwrap_err(), "empty line");
        let long: Vec<String> = (0..500).map(|i| format!("field{i}-{}", "長".repeat(i % 7))).collect();
        let record = splitter.split(&long.join(",")).unwrap();
        assert_eq!(record.len(), 500);
        assert_eq!(&record[499], long[499]);
        // The reader is reset between lines: a quote left open does not leak into the next.
        assert!(splitter.split("\"open,x").is_ok());
        assert_eq!(splitter.split("a,b").unwrap().len(), 2);
    }
}
