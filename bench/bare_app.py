"""The baseline for bench/dashboard_bench.py: a bare Flask page rendering a template."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, render_template

app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))


@app.route("/")
def page() -> str:
    rows = [{"n": n, "amount": f"{n * 1.5:.2f}"} for n in range(10)]
    return render_template("bare.html", rows=rows)
