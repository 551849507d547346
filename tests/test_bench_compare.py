"""`make bench` writes its comparison into bench/RESULTS.md: one section, replaced on every run, others kept."""

from __future__ import annotations

from bench import compare

RESULTS = """# Benchmark results

Introduction.

## Live sync (`bench/realtime.py`)

Older figures.

## Sign-off tally (`bench/signoff.py`)

Tally figures.
"""


def test_the_section_goes_first_and_a_second_run_replaces_it(tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    results.write_text(RESULTS)
    monkeypatch.setattr(compare, "RESULTS", results)

    compare.write_section(f"{compare.SECTION}\n\nFirst run.\n")
    compare.write_section(f"{compare.SECTION}\n\nSecond run.\n")

    text = results.read_text()
    assert text.count(compare.SECTION) == 1
    assert "First run." not in text
    assert text.index("Introduction.") < text.index("Second run.") < text.index("## Live sync")
    assert "Older figures." in text and text.rstrip().endswith("Tally figures.")


def test_a_section_at_the_end_of_the_file_is_replaced_too(tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Benchmark results\n\nIntroduction.\n\n{compare.SECTION}\n\nOld run.\n")
    monkeypatch.setattr(compare, "RESULTS", results)

    compare.write_section(f"{compare.SECTION}\n\nNew run.\n")

    text = results.read_text()
    assert text.count(compare.SECTION) == 1 and "Old run." not in text and "New run." in text


def test_the_table_gives_each_figure_and_its_ratio_to_the_reference():
    table = compare.table(
        {
            "reference": {"S1": {"p50": 20.0, "p99": 80.0, "cpu_per_1000": 0.5, "rss_mib": 100.0}},
            "CoGov SQLite": {"S1": {"p50": 10.0, "p99": 120.0, "cpu_per_1000": 1.0, "rss_mib": 150.0}},
            "CoGov PostgreSQL": {},
        }
    ).splitlines()

    assert table[0] == "| figure | reference | CoGov SQLite | ÷ ref | CoGov PostgreSQL | ÷ ref |"
    assert "| S1 p50 latency | 20.0 ms | 10.0 ms | 0.50 | — | — |" in table
    assert "| S1 p99 latency | 80.0 ms | 120.0 ms | 1.50 | — | — |" in table
    assert "| S1 server peak RSS | 100 MiB | 150 MiB | 1.50 | — | — |" in table
    assert not any(line.startswith("| S2") for line in table)  # scenarios nobody ran are left out


def test_percentiles_of_latencies():
    values = [float(v) for v in range(1, 101)]
    assert compare.percentile(values, 50) == 51.0
    assert compare.percentile(values, 99) == 99.0
    assert compare.percentile([], 50) != compare.percentile([], 50)  # NaN: nothing was delivered


def test_full_runs_keep_their_own_section_newest_first(tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    results.write_text(RESULTS)
    monkeypatch.setattr(compare, "RESULTS", results)

    compare.write_section(f"{compare.SECTION}\n\nQuick run.\n")
    compare.add_full_run("First full run.\n")
    compare.add_full_run("Second full run.\n")
    compare.write_section(f"{compare.SECTION}\n\nAnother quick run.\n")

    text = results.read_text()
    assert text.count(compare.FULL_SECTION) == 1 and text.count(compare.SECTION) == 1
    assert "Quick run." not in text
    assert text.index(compare.FULL_SECTION) < text.index("Second full run.") < text.index("First full run.") < text.index("## Live sync")
    assert "Another quick run." in text and "Older figures." in text and text.rstrip().endswith("Tally figures.")
