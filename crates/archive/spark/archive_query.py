"""mamori's archive query on Spark: one key's rows from a tenant's Parquet archive.

Run by `mamori report disclosure --archive … --engine spark`, which passes the files the
tenant's manifest lists (never a directory listing: a file the manifest does not name is
not part of the archive) and then proves every row it gets back against the tenant's
signed checkpoint. Nothing here is trusted; it only has to be fast over years of files.

    python3 archive_query.py --files LIST --column resident --value-file V \
        --from-ms A --to-ms B --out OUT.jsonl [--master local[2]]

Run by `mamori archive counts --engine spark`, it counts events per tenant and JST day
over every tenant's files instead (the prefecture's statistics: counts, never a row):

    python3 archive_query.py --counts --files LIST --out OUT.tsv [--master local[2]]
"""
import argparse
import json

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", required=True, help="a file with one Parquet path per line")
    ap.add_argument("--counts", action="store_true", help="events per tenant and JST day, over every file listed")
    ap.add_argument("--column", choices=["resident", "actor"])
    ap.add_argument("--value-file", help="the value, in a file: a resident's number is not put on a command line")
    ap.add_argument("--from-ms", type=int)
    ap.add_argument("--to-ms", type=int)
    ap.add_argument("--out", required=True)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()

    with open(args.files, encoding="utf-8") as f:
        paths = [line.strip() for line in f if line.strip()]

    spark = (
        SparkSession.builder.master(args.master)
        .appName("mamori-archive-query")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.parquet.filterPushdown", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    if args.counts:
        counts(spark, paths, args.out)
        spark.stop()
        return
    if args.column is None or args.value_file is None or args.from_ms is None or args.to_ms is None:
        ap.error("a query needs --column, --value-file, --from-ms and --to-ms")
    rows = []
    with open(args.value_file, encoding="utf-8") as f:
        value = f.read()
    if paths:
        df = spark.read.parquet(*paths)
        rows = (
            df.where(
                (F.col(args.column) == value)
                & (F.col("time_ms") >= args.from_ms)
                & (F.col("time_ms") < args.to_ms)
            )
            .select("seq", "time_ms", "leaf_hash", "event")
            .orderBy("seq")
            .collect()
        )
    with open(args.out, "w", encoding="utf-8") as out:
        for r in rows:
            out.write(json.dumps({"seq": r.seq, "time_ms": r.time_ms, "leaf_hash": bytes(r.leaf_hash).hex(), "event": r.event}, ensure_ascii=False))
            out.write("\n")
    spark.stop()


def counts(spark, paths, out_path):
    """Events per tenant (from the file's prefix) and JST day (from each row's own time,
    not from the file's partition), sorted: what the manifests say, counted again."""
    result = []
    if paths:
        df = spark.read.parquet(*paths)
        day = F.date_format(F.from_utc_timestamp((F.col("time_ms") / 1000).cast("timestamp"), "Asia/Tokyo"), "yyyy-MM-dd")
        tenant = F.regexp_extract(F.input_file_name(), r"tenant=([^/]+)/", 1)
        result = df.select(tenant.alias("tenant"), day.alias("date")).groupBy("tenant", "date").count().orderBy("tenant", "date").collect()
    with open(out_path, "w", encoding="utf-8") as out:
        for r in result:
            out.write(f"{r['tenant']}\t{r['date']}\t{r['count']}\n")


if __name__ == "__main__":
    main()
