//! What an import needs beside a source's own settings.

use anyhow::Result;
use mamori_journal::SqliteJournal;

/// The context a source's adapter reads with: for mail, the residents (from the stored
/// master data) that attachments are inspected for.
pub fn adapter_context(
    journal: &SqliteJournal,
    source: Option<&mamori_sources::SourceConfig>,
) -> Result<mamori_sources::AdapterContext> {
    use mamori_sources::Format;
    let mut context = mamori_sources::AdapterContext::default();
    if source.is_some_and(|c| matches!(c.format, Format::Mbox | Format::Maildir)) {
        let rows = journal.master_rows("residents")?;
        let residents: Vec<mamori_model::master::Resident> =
            rows.iter().map(|r| serde_json::from_str(r)).collect::<Result<_, _>>()?;
        if residents.is_empty() {
            eprintln!("{}", crate::tr!("mamori: マスタデータに住民がありません: 添付ファイルは調べますが、どの住民にも当てはまりません", "mamori: no residents in the master data: attachments are inspected but match no one"));
        }
        context.residents = std::sync::Arc::new(mamori_sources::ResidentIndex::new(
            residents.iter().map(|r| (r.uid.as_str(), r.name.as_str(), r.kana.as_str(), r.birth_date)),
        ));
    }
    Ok(context)
}

