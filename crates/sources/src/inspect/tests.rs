use super::*;

fn index() -> ResidentIndex {
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    ResidentIndex::new([
        ("000000305", "佐藤 一", "サトウ ハジメ", d("1970-02-10")),
        ("000000306", "佐藤 栄子", "サトウ エイコ", d("1972-07-21")),
        ("000000401", "高木 正", "タカギ タダシ", d("1960-04-04")),
        ("000000501", "鈴木 一郎", "スズキ イチロウ", d("1980-01-01")),
        ("000000502", "鈴木 一郎", "スズキ イチロウ", d("1980-01-01")),
    ])
}

#[test]
fn a_csv_roster_with_a_header_names_its_residents_items_and_my_numbers() {
    let csv = "宛名番号,氏名,生年月日,住所,個人番号\r\n000000305,佐藤 一,1970-02-10,北町三丁目5番1号,123456789018\r\n,佐藤 栄子,S47.7.21,北町三丁目5番1号,123456789012\r\n";
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(csv);
    let found = inspect("一覧.csv", &sjis, &index());
    assert_eq!((found.rows, found.personal_rows, found.my_numbers), (2, 2, 1), "{found:?}");
    assert_eq!(found.residents.iter().collect::<Vec<_>>(), ["000000305", "000000306"]);
    for item in [Item::ResidentId, Item::Name, Item::BirthDate, Item::Address, Item::MyNumber] {
        assert!(found.items.contains(&item), "{item:?} in {:?}", found.items);
    }
}

#[test]
fn an_arrears_list_says_it_holds_tax_data_and_a_welfare_roster_welfare_data() {
    let arrears = "宛名番号,氏名,住所,滞納額\r\n000000305,佐藤 一,北町三丁目5番1号,249000\r\n";
    let found = inspect("滞納者一覧.csv", arrears.as_bytes(), &index());
    assert!(found.items.contains(&Item::Tax) && found.items.contains(&Item::Name), "{:?}", found.items);
    let roster = "氏名,住所,受給開始日\r\n佐藤 一,北町三丁目5番1号,2023-04-01\r\n";
    let found = inspect("受給者.csv", roster.as_bytes(), &index());
    assert!(found.items.contains(&Item::Welfare) && !found.items.contains(&Item::Tax), "{:?}", found.items);
}

#[test]
fn a_shared_name_and_birth_date_is_not_a_match_and_a_name_alone_is_not_personal_data() {
    let found = inspect("a.txt", "鈴木 一郎,1980/01/01\n佐藤 一\n".as_bytes(), &index());
    assert!(found.residents.is_empty(), "two residents share name and birth date: {found:?}");
    assert_eq!(found.personal_rows, 1, "name + date is personal; a bare name is not");
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut out);
    for (name, data) in entries {
        z.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut z, data).unwrap();
    }
    z.finish().unwrap();
    out.into_inner()
}

#[test]
fn a_zip_is_opened_and_its_entries_inspected() {
    let inner = zip_of(&[("b.csv", "宛名番号\n000000401\n".as_bytes())]);
    let outer = zip_of(&[("a.csv", "宛名番号\n000000305\n".as_bytes()), ("inner.zip", &inner)]);
    let found = inspect("x.zip", &outer, &index());
    assert!(found.inspected && found.uninspectable.is_none(), "{found:?}");
    assert_eq!(found.residents.iter().collect::<Vec<_>>(), ["000000305", "000000401"]);
    assert_eq!(found.entries.len(), 2);
}

#[test]
fn a_zip_bomb_is_reported_without_being_expanded() {
    let zeros = vec![0u8; 64 * 1024 * 1024];
    let bomb = zip_of(&[("huge.csv", &zeros)]);
    assert!(bomb.len() < 1024 * 1024, "the test needs a high ratio: {}", bomb.len());
    let found = inspect("bomb.zip", &bomb, &index());
    let why = found.uninspectable.clone().unwrap_or_default();
    assert!(why.contains("zip bomb"), "{found:?}");
    assert_eq!(found.rows, 0);
}

#[test]
fn unknown_binary_content_is_not_guessed_at() {
    let found = inspect("photo.jpg", b"\xFF\xD8\xFF\xE0 not really", &index());
    assert_eq!((found.kind.as_str(), found.inspected), ("binary", false));
}

#[test]
fn a_health_column_marks_the_sheet_as_sensitive_data() {
    let csv = "宛名番号,氏名,健診結果\n000000305,佐藤 一,要精密検査\n000000401,高木 正,\n";
    let found = inspect("受診者.csv", csv.as_bytes(), &index());
    assert!(found.items.contains(&Item::Health), "{:?}", found.items);
    assert_eq!(found.residents.len(), 2);
}

#[test]
fn a_table_of_counts_headed_with_personal_items_names_no_one() {
    // 地区別の集計: the headers say 氏名 and 住所, the cells are districts and numbers.
    let csv = "住所（地区）,世帯数,人口,氏名の記載件数,電話番号の登録件数\r\n本町地区,1204,2891,2891,1022\r\n北町地区,988,2203,2203,870\r\n合計,2192,5094,5094,1892\r\n";
    let found = inspect("地区別集計.csv", csv.as_bytes(), &index());
    assert_eq!((found.rows, found.personal_rows), (3, 0), "{found:?}");
}

/// A workbook as Excel writes it (package relationships, a workbook, shared strings), read
/// through calamine; and a Word document's table.
fn full_xlsx(rows: &[[&str; 2]]) -> Vec<u8> {
    let mut shared = String::from(r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#);
    let mut sheet = String::from(r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#);
    let mut n = 0;
    for (i, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, i + 1));
        for (j, cell) in row.iter().enumerate() {
            shared.push_str(&format!("<si><t>{cell}</t></si>"));
            sheet.push_str(&format!(r#"<c r="{}{}" t="s"><v>{n}</v></c>"#, (b'A' + j as u8) as char, i + 1));
            n += 1;
        }
        sheet.push_str("</row>");
    }
    shared.push_str("</sst>");
    sheet.push_str("</sheetData></worksheet>");
    let types = r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#;
    let rels = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    let workbook = r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="名簿" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let book_rels = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
    zip_of(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", rels.as_bytes()),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/_rels/workbook.xml.rels", book_rels.as_bytes()),
        ("xl/sharedStrings.xml", shared.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ])
}

#[test]
fn a_workbook_as_excel_writes_it_and_a_word_table_are_read_for_residents() {
    let book = full_xlsx(&[["宛名番号", "氏名"], ["000000305", "佐藤 一"], ["000000401", "高木 正"]]);
    let found = inspect("名簿.xlsx", &book, &index());
    assert!(found.uninspectable.is_none(), "{found:?}");
    assert_eq!(found.residents.iter().collect::<Vec<_>>(), ["000000305", "000000401"]);
    let doc = r#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>対象者一覧</w:t></w:r></w:p><w:tbl><w:tr><w:tc><w:p><w:r><w:t>宛名番号</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>氏名</w:t></w:r></w:p></w:tc></w:tr><w:tr><w:tc><w:p><w:r><w:t>000000305</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>佐藤 一</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:body></w:document>"#;
    let docx = zip_of(&[("word/document.xml", doc.as_bytes())]);
    let found = inspect("通知.docx", &docx, &index());
    assert_eq!(found.residents.iter().collect::<Vec<_>>(), ["000000305"], "{found:?}");
}

#[test]
fn an_archive_of_a_kind_not_opened_is_uninspectable_with_the_reason() {
    let found = inspect("data.7z", b"7z\xBC\xAF\x27\x1C\x00\x04 whatever", &index());
    assert!(found.uninspectable.as_deref().is_some_and(|w| w.contains("7z")), "{found:?}");
    let found = inspect("data.bin", &[0x1f, 0x8b, 8, 0, 0, 0], &index());
    assert!(found.uninspectable.is_some(), "gzip by its magic: {found:?}");
}

/// Workbooks written by other programs (old Excel's BIFF8, LibreOffice's OpenDocument):
/// the same roster read from each, a date cell read as the birth date it is.
#[test]
fn an_old_excel_workbook_and_an_opendocument_sheet_are_read_for_residents() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/inspect");
    for file in ["roster.xls", "roster.ods"] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let found = inspect(file, &bytes, &index());
        assert!(found.uninspectable.is_none(), "{file}: {found:?}");
        assert_eq!(found.residents.iter().collect::<Vec<_>>(), ["000000305", "000000401"], "{file}: {found:?}");
        assert_eq!(found.personal_rows, 2, "{file}: {found:?}");
        assert!(found.items.contains(&Item::BirthDate), "{file}: the date column is a birth date: {found:?}");
    }
    // By name and birth date alone: found only when the date cell is read as a date.
    for file in ["names.xls", "names.ods"] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let found = inspect(file, &bytes, &index());
        assert_eq!(found.residents.iter().collect::<Vec<_>>(), ["000000305", "000000401"], "{file}: {found:?}");
    }
}

#[test]
fn every_date_form_the_parser_reads_passes_the_cheap_check_and_words_do_not() {
    // The check only skips cells the parser would refuse: each form it reads, written
    // with the characters NFKC folds into digits, must still reach it.
    let dates = [
        "2024/05/08", "2024-05-08", "2024年5月8日", "20240508", "5060508", "令和6年5月8日", "令和元年5月1日", "R6.5.8",
        "H30/07/26", "２０２４／０５／０８", "令和６年５月８日", "平成30年㋆㉖日", "令和元年㋄㏠", "〇",
    ];
    for cell in dates {
        let parses = mamori_text::parse_date(cell).is_ok();
        assert!(!parses || could_be_date(cell), "{cell} parses as a date but the check skips it");
    }
    assert!(mamori_text::parse_date("令和元年㋄㏠").is_ok(), "a date written with the compatibility squares is one");
    for word in ["佐藤 一", "サトウ ハジメ", "北町", "SMITH John", "合計", ""] {
        assert!(!could_be_date(word), "{word}");
    }
}

#[test]
fn an_unheaded_row_is_read_for_a_resident_by_name_and_birth_date_written_in_any_form() {
    // No header: a known name beside that person's birth date, the date in full-width
    // digits and the name in hiragana with an ideographic space, still names the resident.
    let csv = "さとう　えいこ,Ｓ４７．７．２１,北町\r\n";
    let found = inspect("memo.csv", csv.as_bytes(), &index());
    assert_eq!(found.residents.iter().collect::<Vec<_>>(), ["000000306"], "{found:?}");
    assert!(found.items.contains(&Item::Name) && found.items.contains(&Item::BirthDate), "{:?}", found.items);
}
