"""bench/record.py: a benchmark's recording replaces its own section of docs/measurements.md only."""
import datetime as dt
import sys

from bench import record

DAY = dt.date(2026, 1, 2)


def test_a_recording_replaces_only_its_own_section(tmp_path):
    path = tmp_path / "measurements.md"
    path.write_text("# Measurements\n\nHistory, by hand.\n")
    record.write_section("bench.crowd", record.section("bench.crowd", "crowd 1", "p95 230 ms\n", DAY), path)
    record.write_section("bench.cnn", record.section("bench.cnn", "cnn", "12 s an epoch", DAY), path)
    record.write_section("bench.crowd", record.section("bench.crowd", "crowd 2", "p95 250 ms", DAY), path)
    text = path.read_text()
    assert text.startswith("# Measurements\n\nHistory, by hand.\n\n<!-- begin bench.crowd -->\n")
    assert "p95 250 ms" in text and "p95 230 ms" not in text and "`crowd 2`" in text
    assert text.count("<!-- begin bench.crowd -->") == 1 and text.count("<!-- end bench.crowd -->") == 1
    assert text.index("bench.crowd, 2026-01-02") < text.index("bench.cnn, 2026-01-02")  # kept in place
    assert "12 s an epoch" in text and "CPU: " in text
    assert [p.name for p in tmp_path.iterdir()] == ["measurements.md"]  # no temporary file left behind


def test_what_is_printed_is_recorded_and_still_shown(tmp_path, capsys, monkeypatch):
    path = tmp_path / "measurements.md"
    monkeypatch.setattr(sys, "argv", ["draw_bench.py", "--seed", "1"])
    with record.recording("bench.draw_bench", True, path):
        print("digits refused: 1.2%")
    assert "digits refused: 1.2%" in capsys.readouterr().out
    text = path.read_text()
    assert "`.venv/bin/python -m bench.draw_bench --seed 1`" in text and "digits refused: 1.2%\n```" in text
    with record.recording("bench.draw_bench", False, path):
        print("not kept")
    assert "not kept" not in path.read_text()


def test_the_cpu_line_names_the_blas_kernel():
    line = record.cpu_line()
    assert line.startswith("CPU: ") and "AVX-512: " in line and "OpenBLAS kernel: " in line
