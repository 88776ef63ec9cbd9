"""Eval reports: report.json (everything), report.md (summary), report.html (self-contained, charts inline)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

COLUMNS = [
    ("strict_accuracy", "strict acc."),
    ("strict_ci95", "95% CI"),
    ("accuracy", "accuracy"),
    ("exact_match", "EM"),
    ("f1", "F1"),
    ("abstain_accuracy", "abstain acc."),
    ("false_abstain_rate", "false abstain"),
    ("retrieval_hit_at_5", "hit@5"),
    ("mrr", "MRR"),
    ("groundedness", "grounded"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
    ("prompt_tokens_mean", "prompt tok"),
    ("answer_tokens_mean", "answer tok"),
    ("answer_words_median", "answer words (median)"),
]


def fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, list):
        return f"[{fmt(v[0])}, {fmt(v[1])}]" if len(v) == 2 else str(v)
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"
    return str(v)


def winner_sentence(report: dict) -> str:
    w = report.get("winner")
    if not w:
        return "No method produced answers."
    if w["runner_up"] is None:
        return f"Only {w['method']} ran: strict accuracy {fmt(w['accuracy'])}."
    sig = "significant" if w["significant"] else "not significant"
    return (
        f"{w['method']} wins with strict accuracy {fmt(w['accuracy'])}, {fmt(w['margin'])} ahead of {w['runner_up']} "
        f"(McNemar p = {fmt(w['p_value'])}: {sig} at 0.05)."
    )


def _kind_score(v: dict) -> Any:
    """A kind's headline: strict accuracy (plain accuracy in reports made before it), abstain accuracy for unanswerable."""
    for key in ("strict_accuracy", "accuracy", "abstain_accuracy"):
        if v.get(key) is not None:
            return v[key]
    return None


def embedder_line(report: dict) -> list[str]:
    """A line naming a tuned embedder (and whether it is stale); nothing for the base model."""
    used = report.get("embedder") or {}
    if used.get("name", "base") == "base":
        return []
    return [f"- embedder: tuned `{used['name']}` ({used['id']}){' — stale: trained before the collection last changed' if used.get('stale') else ''}"]


def to_markdown(report: dict) -> str:
    methods = report["methods"]
    lines = [
        f"# ragkit eval: {report['collection']}",
        "",
        f"{winner_sentence(report)}",
        "",
        f"- eval set: `{report['evalset']}` ({len(report['questions'])} of {report['questions_in_evalset']} questions)",
        f"- generator: {report['generator']['kind']} / {report['generator']['model']} (remote: {str(report['generator']['remote']).lower()})",
        f"- collection revision {report['collection_revision']}; created {report['created_at']}",
        *embedder_line(report),
        "",
        "| method | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for m, s in methods.items():
        lines.append(f"| {m} | " + " | ".join(fmt(s.get(k)) for k, _ in COLUMNS) + " |")
    lines += ["", "## Pairs (strict accuracy a - b on answerable questions, McNemar exact test)", "", "| a | b | n | diff | p |", "|---|---|---|---|---|"]
    for p in report["pairs"]:
        lines.append(f"| {p['a']} | {p['b']} | {p['n']} | {fmt(p['diff'])} | {fmt(p['p_value'])} |")
    lines += [
        "", "## Whose words (the model's own words, a span of a source the model chose, a quoted source sentence)", "",
        "| method | model: n | strict acc. | span: n | strict acc. | sentence: n | strict acc. |", "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for m, s in methods.items():
        af = s.get("answer_from") or {}
        cells = [f"{af.get(o, {}).get('n', 0)} | {fmt(af.get(o, {}).get('strict_accuracy'))}" for o in ("model", "span", "evidence")]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "## By kind (strict accuracy; abstain accuracy for unanswerable)", ""]
    kinds = sorted({k for m in report["by_kind"].values() for k in m})
    lines.append("| method | " + " | ".join(kinds) + " |")
    lines.append("|---|" + "---|" * len(kinds))
    for m, per in report["by_kind"].items():
        cells = []
        for k in kinds:
            v = per.get(k, {})
            cells.append(fmt(_kind_score(v)))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if report.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in report["warnings"]]
    return "\n".join(lines) + "\n"


# -- HTML ------------------------------------------------------------------------------------------

PALETTE = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477"]


def bar_chart(methods: dict[str, dict]) -> str:
    """Accuracy per method with 95% CI whiskers."""
    names = list(methods)
    w, h, pad, left = 640, 40 + 36 * len(names), 20, 120
    scale = w - left - pad
    parts = [f'<svg class="chart" id="accuracy-chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="accuracy per method">']
    for i, tick in enumerate([0, 0.25, 0.5, 0.75, 1.0]):
        x = left + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="10" x2="{x:.1f}" y2="{h - 20}" stroke="#ddd"/><text x="{x:.1f}" y="{h - 5}" font-size="11" text-anchor="middle">{tick:g}</text>')
    for i, m in enumerate(names):
        y = 20 + 36 * i
        acc = methods[m].get("accuracy") or 0.0
        parts.append(f'<text x="{left - 8}" y="{y + 15}" font-size="12" text-anchor="end">{html.escape(m)}</text>')
        parts.append(f'<rect class="bar" x="{left}" y="{y}" width="{acc * scale:.1f}" height="22" fill="{PALETTE[i % len(PALETTE)]}"><title>{html.escape(m)}: {acc:.3f}</title></rect>')
        ci = methods[m].get("ci95")
        if ci:
            x0, x1 = left + ci[0] * scale, left + ci[1] * scale
            parts.append(f'<line x1="{x0:.1f}" y1="{y + 11}" x2="{x1:.1f}" y2="{y + 11}" stroke="#000" stroke-width="1.5"/>')
            parts.append(f'<line x1="{x0:.1f}" y1="{y + 5}" x2="{x0:.1f}" y2="{y + 17}" stroke="#000"/><line x1="{x1:.1f}" y1="{y + 5}" x2="{x1:.1f}" y2="{y + 17}" stroke="#000"/>')
    parts.append("</svg>")
    return "".join(parts)


def frontier_chart(methods: dict[str, dict]) -> str:
    """Accuracy against mean prompt tokens: the cost frontier."""
    w, h, left, bottom = 760, 320, 60, 40
    pts = [(m, s.get("prompt_tokens_mean") or 0.0, s.get("accuracy") or 0.0) for m, s in methods.items()]
    xmax = max([p[1] for p in pts] + [1.0]) * 1.1
    parts = [f'<svg class="chart" id="frontier-chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="accuracy against prompt tokens">']
    parts.append(f'<line x1="{left}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="#333"/><line x1="{left}" y1="10" x2="{left}" y2="{h - bottom}" stroke="#333"/>')
    parts.append(f'<text x="{(w + left) / 2}" y="{h - 8}" font-size="12" text-anchor="middle">mean prompt tokens</text>')
    parts.append(f'<text x="14" y="{(h - bottom) / 2}" font-size="12" transform="rotate(-90 14 {(h - bottom) / 2})" text-anchor="middle">accuracy</text>')
    for tick in (0, 0.5, 1.0):
        y = h - bottom - tick * (h - bottom - 20)
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text x="{w - 10}" y="{h - bottom + 14}" font-size="11" text-anchor="end">{xmax:.0f}</text>')
    for i, (m, x, y) in enumerate(pts):
        cx = left + (x / xmax) * (w - left - 140)
        cy = h - bottom - y * (h - bottom - 20)
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="{color}"><title>{html.escape(m)}: {y:.3f} at {x:.0f} tokens</title></circle>')
        parts.append(f'<text x="{cx + 9:.1f}" y="{cy + 4:.1f}" font-size="12">{html.escape(m)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: dict) -> str:
    e = html.escape
    methods = report["methods"]
    head = "".join(f"<th>{e(label)}</th>" for _, label in COLUMNS)
    body = "".join(f"<tr><th>{e(m)}</th>" + "".join(f"<td>{e(fmt(s.get(k)))}</td>" for k, _ in COLUMNS) + "</tr>" for m, s in methods.items())
    pairs = "".join(
        f"<tr><td>{e(p['a'])}</td><td>{e(p['b'])}</td><td>{p['n']}</td><td>{e(fmt(p['diff']))}</td><td>{e(fmt(p['p_value']))}</td></tr>" for p in report["pairs"]
    )
    kinds = sorted({k for m in report["by_kind"].values() for k in m})
    kind_rows = "".join(
        f"<tr><th>{e(m)}</th>"
        + "".join(
            f"<td>{e(fmt(_kind_score(per.get(k, {}))))}</td>"
            for k in kinds
        )
        + "</tr>"
        for m, per in report["by_kind"].items()
    )
    names = list(methods)
    q_head = "<th>id</th><th>kind</th><th>question</th><th>reference</th>" + "".join(f"<th>{e(m)}</th>" for m in names)
    q_rows = []
    for q in report["questions"]:
        cells = []
        for m in names:
            res = q["results"][m]
            ans = res["answer"]
            if "error" in ans:
                cells.append(f'<td class="err">{e(ans["error"]["code"])}</td>')
                continue
            sc = res["scores"]
            cls = "abst" if ans["abstained"] else ("ok" if sc.get("accuracy") == 1.0 or sc.get("abstain_correct") == 1.0 else "bad")
            if sc.get("abstain_correct") == 1.0:
                cls = "ok"
            cells.append(f'<td class="{cls}">{e(ans["answer"])}</td>')
        q_rows.append(f"<tr><td>{e(q['id'])}</td><td>{e(q.get('kind') or '')}</td><td>{e(q['question'])}</td><td>{e(q['answer'])}</td>{''.join(cells)}</tr>")
    gen = report["generator"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ragkit eval: {e(report['collection'])}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222}} table{{border-collapse:collapse;margin:8px 0 24px}}
th,td{{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}} thead th{{background:#f3f3f3}}
td.ok{{background:#e6f4e6}} td.bad{{background:#fbe9e9}} td.abst{{background:#f4f4f4;color:#666}} td.err{{color:#a00}}
.winner{{font-size:16px;padding:10px;background:#eef3fb;border-left:4px solid #3366cc}}
</style></head><body>
<h1>ragkit eval: {e(report['collection'])}</h1>
<p class="winner" id="winner">{e(winner_sentence(report))}</p>
<p>Eval set <code>{e(report['evalset'])}</code>: {len(report['questions'])} of {report['questions_in_evalset']} questions.
Generator: {e(gen['kind'])} / {e(gen['model'])} (remote: {str(gen['remote']).lower()}). Collection revision {report['collection_revision']}. {e(report['created_at'])}.</p>
<h2>Methods</h2>
<table id="methods-table"><thead><tr><th>method</th>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Accuracy with 95% confidence intervals</h2>
{bar_chart(methods)}
<h2>Accuracy against cost</h2>
{frontier_chart(methods)}
<h2>Pairs</h2>
<p>Accuracy difference (a − b) on the answerable questions both methods answered; McNemar exact test.</p>
<table id="pairs-table"><thead><tr><th>a</th><th>b</th><th>n</th><th>diff</th><th>p</th></tr></thead><tbody>{pairs}</tbody></table>
<h2>By kind</h2>
<table id="kind-table"><thead><tr><th>method</th>{''.join(f'<th>{e(k)}</th>' for k in kinds)}</tr></thead><tbody>{kind_rows}</tbody></table>
<h2>Questions</h2>
<table id="questions-table"><thead><tr>{q_head}</tr></thead><tbody>{''.join(q_rows)}</tbody></table>
</body></html>
"""


def write_reports(report: dict, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "report.json", "md": folder / "report.md", "html": folder / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    paths["md"].write_text(to_markdown(report), encoding="utf-8")
    paths["html"].write_text(to_html(report), encoding="utf-8")
    return paths
