"""Laying a plan diff out for people: text for the terminal, Markdown for a pull-request comment.

Both start with the counts, then the warnings a reviewer must not miss (`!! DATA LOSS`,
`!! REFUSED`, `!! REPLACE`, `!! PROTECTION WEAKENED`), then each resource: added ones with every
input, removed ones with their protection, changed ones with each section of `diff.py` (the
sections Pulumi ignores under `ignoreChanges` said so).

The Markdown is one document for one comment: a heading, the counts, the warnings, then a
```` ```diff ```` block per resource (`+`/`-` lines coloured), long ones folded in `<details>`.
GitHub refuses a comment body over 65,536 characters ("Body is too long (maximum is 65536
characters)"): the document is kept within that many UTF-8 bytes (never fewer bytes than
characters, however GitHub counts), whole resources at a time, and ends with a note of what was
left out and the command that prints it all.

Deliberately not here: what differs (`diff.py`, `diff_values.py`).
"""

from __future__ import annotations

import re

from infra.plan.diff import PlanDiff, ResourceDiff
from infra.plan.diff_values import Line, Section

COMMENT_LIMIT = 65_536  # GitHub's limit on a comment body (docs/real-world.md, github-comment-size)
FOLD_LINES = 25  # a resource's block longer than this is folded in <details>
IGNORED = "[ignored: under ignoreChanges, Pulumi does not apply it]"


def counts(d: PlanDiff) -> str:
    text = (f"{len(d.of('add'))} to add, {len(d.changed)} to change, {len(d.of('remove'))} to remove")
    if d.ignored_only:
        text += f"; {len(d.ignored_only)} changed only under ignoreChanges (not applied)"
    return text


def warnings(d: PlanDiff) -> list[tuple[str, str]]:
    """(flag, sentence) for each change a reviewer must not miss, the worst first."""
    out = []
    for n in d.not_in_place:
        flag = "DATA LOSS" if n.kind == "replace" and n.stateful else ("REFUSED" if n.kind == "refused" else "REPLACE")
        out.append((flag, n.sentence + ("; it is protected, so the `up` stops" if n.protected else "")))
    out += [("PROTECTION WEAKENED", text) for text in d.unprotected]
    order = ("DATA LOSS", "REFUSED", "PROTECTION WEAKENED", "REPLACE")
    return sorted(out, key=lambda w: order.index(w[0]))


def header(r: ResourceDiff) -> str:
    res = r.resource
    if r.kind == "add":
        return f"+ {res['type']} {res.get('name', '')}"
    if r.kind == "remove":
        return f"- {res['type']} {res.get('name', '')}"
    mark = {"replace": "+-", "refused": "!~"}.get(r.mark or "", "~")
    return f"{mark} {res['type']} {res.get('name', '')}"


def note(r: ResourceDiff) -> str:
    if r.kind == "remove":
        protected = r.resource.get("protect")
        return "[protected: the engine will refuse]" if protected else "[not protected: the `up` deletes it]"
    if r.kind == "change" and not r.applied:
        return "[only ignored changes: Pulumi leaves it as it is]"
    return {"replace": "[replace]", "refused": "[refused in place]"}.get(r.mark or "", "")


def section_lines(s: Section) -> list[tuple[int, Line]]:
    """(level, line): a titled section's heading at level 0 and its lines under it at level 1."""
    suffix = f"  {IGNORED}" if s.ignored else ""
    if s.title is None:
        first, *rest = s.lines
        return [(0, Line(first.mark, first.text + suffix)), *((0, line) for line in rest)]
    return [(0, Line("", f"{s.title}:{suffix}")), *((1, line) for line in s.lines)]


# --- text -----------------------------------------------------------------------------------------


def render_text(d: PlanDiff, against: str = "the earlier plan") -> str:
    if d.empty:
        return f"No changes against {against}."
    lines = [f"Against {against}: {counts(d)}."]
    lines += [f"!! {flag}: {sentence}" for flag, sentence in warnings(d)]
    for r in d.of("add") + d.of("remove") + d.changed + d.ignored_only:
        lines.append(f"{header(r)}  ({r.resource['urn']})" + (f"  {note(r)}" if note(r) else ""))
        for s in r.sections:
            for level, line in section_lines(s):
                lines.append("    " + "  " * level + (f"{line.mark} " if line.mark else "") + line.text)
    return "\n".join(lines)


# --- Markdown -------------------------------------------------------------------------------------


def render_markdown(d: PlanDiff, stack: str, against: str, command: str, limit: int = COMMENT_LIMIT) -> str:
    """The diff as one pull-request comment within `limit` UTF-8 bytes; `command` prints it whole."""
    head = [f"### Plan diff of stack `{stack}`", "",
            f"Against {against}: " + (f"**{counts(d)}**." if not d.empty else "**no changes**."), ""]
    blocks = [("", "\n".join(head) + "\n")]
    flagged = warnings(d)
    if flagged:
        blocks.append(("", "> [!WARNING]\n> **Read these first**\n"))
        blocks += [("warning", f"> - **{flag}**: {_escape(sentence)}\n") for flag, sentence in flagged]
        blocks.append(("", "\n"))
    groups = (("Added", d.of("add")), ("Removed", d.of("remove")), ("Changed", d.changed),
              ("Changed only under `ignoreChanges` (not applied)", d.ignored_only))
    for title, group in groups:
        if group:
            blocks.append(("", f"#### {title} ({len(group)})\n\n"))
            blocks += [("resource", _resource_block(r)) for r in group]
    return _fit(blocks, limit, command)


def _resource_block(r: ResourceDiff) -> str:
    res = r.resource
    title = f"<code>{_html(header(r))}</code>" + (f" {_html(note(r))}" if note(r) else "")
    if r.kind == "remove":
        return f"- {title}\n\n"
    applied = [s for s in r.sections if not s.ignored]
    ignored = [s for s in r.sections if s.ignored]
    body = _diff_block(applied) if applied else ""
    if ignored:
        body += ("Not applied: the resource's `ignoreChanges` keeps the old value of these "
                 f"(`{'`, `'.join(res.get('ignoreChanges') or [])}`).\n\n" + _diff_block(ignored, say_ignored=False))
    size = sum(len(s.lines) + 1 for s in r.sections)
    if size > FOLD_LINES:
        return f"<details><summary>{title} ({size} lines)</summary>\n\n{body}</details>\n\n"
    return f"{title}\n\n{body}"


def _diff_block(sections: list[Section], say_ignored: bool = True) -> str:
    lines = []
    for s in sections:
        shown = s if say_ignored else Section(s.title, s.lines)
        for level, line in section_lines(shown):
            if not line.mark and line.text.startswith("@@"):
                lines.append(line.text)
            else:
                lines.append(f"{line.mark or ' '} " + "  " * level + line.text)
    body = "\n".join(lines)
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", body)), default=0))
    return f"{fence}diff\n{body}\n{fence}\n\n"


def _fit(blocks: list[tuple[str, str]], limit: int, command: str) -> str:
    """The blocks in order while they fit in `limit` UTF-8 bytes (room kept for the note), then a
    note of what is left out and the command that prints it all."""
    def size(text: str) -> int:
        return len(text.encode("utf-8"))

    def cut_note(rest: list[tuple[str, str]]) -> str:
        kinds = [kind for kind, _ in rest]
        left = ", ".join(f"{kinds.count(k)} {k}(s)" for k in ("warning", "resource") if k in kinds)
        return (f"\n---\n**Cut to fit one GitHub comment** (at most {COMMENT_LIMIT:,} characters): "
                f"{left or 'the rest'} not shown. The whole diff: `{command}`\n")

    out, used = [], 0
    for i, (_, block) in enumerate(blocks):
        last = i == len(blocks) - 1
        room = 0 if last else size(cut_note(blocks))  # the longest note there can be
        if used + size(block) + room > limit:
            out.append(cut_note(blocks[i:]))
            break
        out.append(block)
        used += size(block)
    return "".join(out).rstrip("\n") + "\n"


def _escape(text: str) -> str:
    """Markdown text with its HTML and emphasis characters made literal, code spans left as they are."""
    parts = text.split("`")
    return "`".join(p if i % 2 else re.sub(r"([\\*_<>\[\]|])", r"\\\1", p) for i, p in enumerate(parts))


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
