//! Bytes to text. Japanese business systems still export Shift_JIS (strictly CP932, the
//! Windows form with NEC and IBM extensions, which is what encoding_rs's `Shift_JIS`
//! decodes); newer ones write UTF-8, with or without a BOM.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    #[serde(alias = "utf8", alias = "utf-8")]
    Utf8,
    #[serde(alias = "sjis", alias = "cp932", alias = "shift-jis", alias = "windows-31j")]
    ShiftJis,
    /// UTF-8 where the line is valid UTF-8, otherwise CP932.
    #[default]
    Auto,
}

impl Encoding {
    /// Decodes one line; an undecodable byte is an error naming its position.
    pub fn decode(self, line: &[u8]) -> Result<String, String> {
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        let utf8 = || {
            std::str::from_utf8(line)
                .map(str::to_owned)
                .map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to() + 1))
        };
        let sjis = || {
            let (text, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(line);
            if had_errors {
                let at = text.find('\u{FFFD}').map_or(0, |i| text[..i].chars().count() + 1);
                Err(format!("not Shift_JIS (CP932) at character {at}"))
            } else {
                Ok(text.into_owned())
            }
        };
        match self {
            Encoding::Utf8 => utf8(),
            Encoding::ShiftJis => sjis(),
            Encoding::Auto => utf8().or_else(|_| sjis().map_err(|e| format!("neither UTF-8 nor {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_jis_with_ibm_extensions_and_utf8_with_bom_decode() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("髙橋,﨑");
        assert_eq!(Encoding::ShiftJis.decode(&sjis).unwrap(), "髙橋,﨑");
        assert_eq!(Encoding::Auto.decode(&sjis).unwrap(), "髙橋,﨑");
        assert_eq!(Encoding::Auto.decode("\u{FEFF}日付".as_bytes()).unwrap(), "日付");
        assert!(Encoding::Utf8.decode(&sjis).is_err());
        let err = Encoding::Auto.decode(b"ok,\x82").unwrap_err();
        assert!(err.contains("Shift_JIS"), "{err}");
    }
}
