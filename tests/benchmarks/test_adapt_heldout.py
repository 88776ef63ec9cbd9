"""benchmarks/adapt_heldout.py: the held-out split of the train queries."""

from __future__ import annotations

from tests.conftest import load_benchmark
from tests.ragkit.test_bench_retrieval import write_beir


def test_split_partitions_the_train_qrels_and_leaves_test_out(tmp_path):
    mod = load_benchmark("adapt_heldout")
    beir = write_beir(tmp_path / "beir-tiny")
    (beir / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t10{q}\t1\n" for q in ("0", "5", "6", "14", "14")), encoding="utf-8"
    )
    dest = tmp_path / "split" / "beir-tiny"
    counts = mod.split_folder(beir, dest)
    rows = lambda name: (dest / "qrels" / f"{name}.tsv").read_text().splitlines()  # noqa: E731
    dev, train = rows("dev"), rows("train")
    assert dev[0] == train[0] == mod.HEADER
    # by hand: sha256 of "0" and "14" is 0 mod 5 (held out), of "5" and "6" is not
    assert [r.split("\t")[0] for r in dev[1:]] == ["0", "14", "14"] and [r.split("\t")[0] for r in train[1:]] == ["5", "6"]
    assert counts == {"train": 2, "dev": 2}
    assert not (dest / "qrels" / "test.tsv").exists()
    assert (dest / "corpus.jsonl").read_text() == (beir / "corpus.jsonl").read_text()
    assert mod.split_folder(beir, dest) == counts  # re-run over an existing folder
