"""Scheduled scripts (`kind: script`): a BigQuery multi-statement query, read statement by statement.

A script is scheduled as written (the Data Transfer Service runs a multi-statement query with no
destination table and no write preference: docs/real-world.md, `dml-no-destination`); the program
does not wrap it in the DML of `write_sql.py`. To give every statement the checks a SELECT gets,
`parse_script` splits the file at its semicolons (outside parentheses) and reads each part:

- procedural wrappers are peeled off: `IF <cond> THEN`, `ELSEIF <cond> THEN`, `ELSE`, `WHILE <cond>
  DO`, `FOR x IN (<query>) DO`, `LOOP`, `REPEAT`, `BEGIN` (a block, not `BEGIN TRANSACTION`),
  `EXCEPTION WHEN ERROR THEN`, `END ...`, `BREAK`/`LEAVE`/`CONTINUE`/`ITERATE`/`RETURN`; a
  condition, a FOR's query and an `ASSERT` are read as the expression of a SELECT, so a table they
  read is a reference like any other;
- every other statement is parsed with sqlglot's BigQuery dialect: DECLARE, SET, SELECT, INSERT,
  MERGE, UPDATE, DELETE, TRUNCATE TABLE, CREATE TEMP TABLE, DROP TABLE, BEGIN TRANSACTION, COMMIT,
  ROLLBACK. `EXECUTE IMMEDIATE` and `CALL` are refused: what they read is invisible;
- the tables a statement reads are `refs` (with their spans in the whole file, so `sql.resolve`
  rewrites the names in every statement), the tables it writes are `writes`; a temporary table
  (`CREATE TEMP TABLE name`, then `name` or `_SESSION.name`) is neither: it lives for the script.

For the cost guard, a variable whose every value (DECLARE ... DEFAULT, SET) is an expression of the
run's moment (`DATE_SUB(@run_date, INTERVAL 2 DAY)`) counts as that expression: `WHERE day >= since`
bounds the partitions as `WHERE day >= DATE_SUB(@run_date, ...)` would.

`script_problems` then says what a script may not do: write a table other than its own (or a
temporary one), CREATE or DROP its own table (the program creates it with the declared columns: a
CREATE OR REPLACE would replace them), a statement it cannot read, a DECLARE after another
statement (BigQuery: "Variable declarations must appear before other procedural statements, or at
the start of a BEGIN block", docs/real-world.md, `declare-first`).

Deliberately not here: the column analysis (a script's statements use variables and temporary
tables no contract declares, so its columns are not resolved: its contract is its YAML `columns:`,
the schema the program creates the table with) and which names exist (`query_rules.py`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.bigquery import BigQuery
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from infra.checks.sql import ParsedQuery, SqlError, SqlProblem, TableRef, _function_name, _is_run_bound, _ref
from infra.checks.sqlglot_log import captured

_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|/\*.*?\*/)*([A-Za-z_]+)?", re.S)
_CONTROL_ONLY = {"BREAK", "LEAVE", "CONTINUE", "ITERATE", "RETURN", "RAISE"}
_PREFIXES = {"ELSE", "LOOP", "REPEAT"}
_UNREADABLE = {"EXECUTE": "EXECUTE IMMEDIATE runs SQL built as text", "CALL": "CALL runs a procedure"}
_STATEMENTS = (exp.Declare, exp.Set, exp.Query, exp.Insert, exp.Merge, exp.Update, exp.Delete, exp.TruncateTable,
               exp.Create, exp.Drop, exp.Transaction, exp.Commit, exp.Rollback)


@dataclass(frozen=True)
class ParsedScript(ParsedQuery):
    """A script: `refs` are the tables it reads, `writes` those it writes (never temporary ones)."""
    writes: tuple[TableRef, ...] = ()
    statements: tuple[exp.Expression, ...] = ()
    creates: tuple[TableRef, ...] = ()  # CREATE or DROP of a permanent table: refused by script_problems
    problems: tuple[SqlProblem, ...] = ()

    @property
    def all_refs(self) -> ParsedQuery:
        """The script with every table it names as `refs`, for `sql.resolve`."""
        return dataclasses.replace(self, refs=tuple(sorted(self.refs + self.writes, key=lambda r: r.start)))


@dataclass(frozen=True)
class _Piece:
    text: str
    start: int  # offset of `text` in the script
    condition: bool  # an expression (IF/WHILE condition, ASSERT), not a statement
    block_start: bool = False  # the first statement of a BEGIN block, where DECLAREs may stand again


def parse_script(sql: str) -> ParsedScript:
    """Every statement of a BigQuery script; raise `SqlError` on the first that does not parse."""
    pieces, problems = _pieces(sql)
    statements: list[exp.Expression] = []
    temps: set[str] = set()
    reads: list[TableRef] = []
    writes: list[TableRef] = []
    creates: list[TableRef] = []
    functions: set[str] = set()
    variables: dict[str, list[exp.Expression]] = {}
    declared_after: list[int] = []
    seen_statement = False
    for piece in pieces:
        seen_statement = seen_statement and not piece.block_start
        line = sql.count("\n", 0, piece.start) + 1
        text = f"SELECT {piece.text}" if piece.condition else piece.text
        shift = piece.start - (len("SELECT ") if piece.condition else 0)
        try:
            # What sqlglot logs about a statement it cannot read is not printed: such a statement
            # comes back as a command, which the check below refuses in one line of its own.
            with captured():
                tree = sqlglot.parse_one(text, read="bigquery")
        except ParseError as exc:
            err = exc.errors[0] if exc.errors else {}
            where = line + (err.get("line") or 1) - 1
            raise SqlError(where, f"SQL does not parse: {err.get('description') or exc}") from None
        except TokenError as exc:
            raise SqlError(line, f"SQL does not parse: {exc}") from None
        if not isinstance(tree, _STATEMENTS):
            problems.append(SqlProblem(line, f"a script statement this check cannot read: {tree.key.upper()}",
                                          "write it as DECLARE, SET, SELECT, INSERT, MERGE, UPDATE, DELETE, "
                                          "CREATE TEMP TABLE or a transaction"))
            continue
        if isinstance(tree, exp.Declare):
            if seen_statement:
                declared_after.append(line)
            for item in tree.expressions:
                names = item.this if isinstance(item.this, list) else [item.this]
                for name in names:
                    variables.setdefault(name.name.lower(), []).append(item.args.get("default"))
        elif not piece.condition:
            seen_statement = True
        if isinstance(tree, exp.Set):
            for item in tree.expressions:
                if isinstance(item.this, exp.EQ) and isinstance(item.this.this, exp.Column):
                    variables.setdefault(item.this.this.name.lower(), []).append(item.this.expression)
        statements.append(tree)
        targets = _targets(tree)
        if isinstance(tree, exp.Create) and tree.args.get("kind", "").upper() == "TABLE" and _temporary(tree):
            temps |= {t.name.lower() for t in targets}
            targets = []
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            if isinstance(table.this, exp.Func):
                functions.add(_function_name(table.this))
                continue
            if (not table.db and (table.name in ctes or table.name.lower() in temps)) or \
                    (table.db.upper() == "_SESSION" and not table.catalog):
                continue
            ref = _shifted(_ref(table), shift, line)
            if any(table is t for t in targets):
                (creates if isinstance(tree, (exp.Create, exp.Drop)) else writes).append(ref)
            else:
                reads.append(ref)
        functions |= {name for f in tree.find_all(exp.Func) if (name := _function_name(f)) == "EXTERNAL_QUERY"}
    for line in declared_after:
        problems.append(SqlProblem(line, "a DECLARE after another statement: BigQuery declares variables before "
                                            "any other statement (or at the start of a BEGIN block)",
                                      "move the DECLARE to the top of the script"))
    _inline_run_variables(statements, variables)
    parameters = frozenset(p.name.lower() for s in statements for p in s.find_all(exp.Parameter)
                           if not isinstance(p.this, exp.Parameter) and not isinstance(p.parent, exp.Parameter))
    return ParsedScript(sql=sql, tree=exp.Tuple(expressions=list(statements)), refs=tuple(reads),
                        parameters=parameters, output_columns=None,
                        table_functions=frozenset(functions - {"UNNEST"}), writes=tuple(writes),
                        statements=tuple(statements), creates=tuple(creates), problems=tuple(problems))


def script_problems(own_key: str, parsed: ParsedScript) -> list[SqlProblem]:
    """What the script `parsed`, declared as building `own_key` (`dataset.table`), may not do."""
    out = list(parsed.problems)
    for ref in parsed.creates:
        verb = "creates or drops"
        if ref.key == own_key:
            out.append(SqlProblem(ref.line, f"the script {verb} its own table {ref.key}: the program creates it "
                                               "with the declared `columns:`, which a CREATE would replace",
                                     "write it with INSERT, MERGE, UPDATE or DELETE; keep CREATE for TEMP tables"))
        else:
            out.append(SqlProblem(ref.line, f"the script {verb} {ref.key}, which is not a temporary table",
                                     "create scratch tables with CREATE TEMP TABLE; other tables are declared"))
    for ref in parsed.writes:
        if ref.key != own_key or ref.project:
            out.append(SqlProblem(ref.line, f"the script writes {_written(ref)}, not its own table {own_key}",
                                     f"a script writes only the table its YAML declares ({own_key}) and temporary "
                                     "tables: build the other table with its own query"))
    return out


def _written(ref: TableRef) -> str:
    return f"{ref.project}.{ref.key}" if ref.project else ref.key if ref.dataset else ref.table


def _temporary(create: exp.Create) -> bool:
    props = create.args.get("properties")
    return props is not None and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions)


def _targets(tree: exp.Expression) -> list[exp.Table]:
    """The tables a statement writes (or creates, drops, empties)."""
    if isinstance(tree, (exp.Insert, exp.Merge, exp.Update, exp.Create)):
        target = tree.this
        target = target.this if isinstance(target, exp.Schema) else target
        return [target] if isinstance(target, exp.Table) else []
    if isinstance(tree, exp.Delete):
        return [tree.this] if isinstance(tree.this, exp.Table) else list(tree.args.get("tables") or ())
    if isinstance(tree, exp.Drop):
        return list(tree.args.get("tables") or ([tree.this] if isinstance(tree.this, exp.Table) else []))
    if isinstance(tree, exp.TruncateTable):
        return list(tree.expressions)
    return []


def _shifted(ref: TableRef, shift: int, line: int) -> TableRef:
    return dataclasses.replace(ref, start=ref.start + shift if ref.start >= 0 else -1,
                               end=ref.end + shift if ref.end >= 0 else -1, line=line + ref.line - 1)


def _inline_run_variables(statements: list[exp.Expression], variables: dict[str, list]) -> None:
    """Replace, for the cost guard, each use of a variable whose every value is an expression of
    the run's moment by that expression (the trees serve the analysis only; the text is untouched)."""
    bound = {name: values[-1] for name, values in variables.items()
             if values and all(isinstance(v, exp.Expression) and _is_run_bound(v) for v in values)}
    if not bound:
        return
    for tree in statements:
        if isinstance(tree, (exp.Declare, exp.Set)):
            continue
        for column in list(tree.find_all(exp.Column)):
            if not column.table and column.name.lower() in bound:
                column.replace(bound[column.name.lower()].copy())


def _pieces(sql: str) -> tuple[list[_Piece], list[SqlProblem]]:
    """The statements and conditions of the script, its procedural wrappers peeled off."""
    out: list[_Piece] = []
    problems: list[SqlProblem] = []
    for text, start in _split(sql):
        block = False
        while text.strip():
            m = _WORD.match(text)
            word = (m.group(1) or "").upper()
            at = m.start(1) if m.group(1) else len(text)
            rest = text[at + len(word):]
            base = start + at + len(word)
            if word in ("IF", "ELSEIF", "WHILE", "UNTIL") or (word == "EXCEPTION"):
                cut = _condition_end(rest, "DO" if word == "WHILE" else "END" if word == "UNTIL" else "THEN")
                if cut is None:
                    raise SqlError(sql.count("\n", 0, start + at) + 1, f"SQL does not parse: {word} without its end")
                if word != "EXCEPTION":
                    out.append(_Piece(rest[:cut[0]], base, condition=True))
                text, start = rest[cut[1]:], base + cut[1]
            elif word == "FOR":  # FOR x IN (<query>) DO: the query is read
                into = _condition_end(rest, "IN")
                cut = _condition_end(rest[into[1]:], "DO") if into else None
                if cut is None:
                    raise SqlError(sql.count("\n", 0, start + at) + 1, "SQL does not parse: FOR without IN ... DO")
                out.append(_Piece(rest[into[1]:into[1] + cut[0]], base + into[1], condition=True))
                text, start = rest[into[1] + cut[1]:], base + into[1] + cut[1]
            elif word == "BEGIN" and not rest.strip():
                break  # BEGIN; alone starts a transaction, as BEGIN TRANSACTION does
            elif word in _PREFIXES or (word == "BEGIN" and not re.match(r"\s+TRANSACTION\b", rest, re.I)):
                text, start, block = rest, base, word == "BEGIN"
            elif word == "END" and not re.match(r"\s+TRANSACTION\b", rest, re.I):
                break  # END, END IF, END LOOP, END WHILE, END REPEAT: nothing to read
            elif word in _CONTROL_ONLY:
                break
            elif word in _UNREADABLE:
                problems.append(SqlProblem(sql.count("\n", 0, start + at) + 1,
                                              f"{_UNREADABLE[word]}: what it reads and writes cannot be checked",
                                              "write the statements themselves in the script"))
                break
            elif word == "ASSERT":
                condition = re.sub(r"\s+AS\s+('[^']*'|\"[^\"]*\")\s*$", "", rest, flags=re.I)
                out.append(_Piece(condition, base, condition=True))
                break
            else:
                out.append(_Piece(text[at:], start + at, condition=False, block_start=block))
                break
    return out, problems


def _condition_end(text: str, keyword: str) -> tuple[int, int] | None:
    """(start, end) of the first `keyword` outside parentheses and CASE ... END in `text`."""
    depth = cases = 0
    for token in BigQuery().tokenize(text):
        word = token.text.upper()
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif token.token_type == TokenType.CASE:
            cases += 1
        elif word == keyword and depth == 0 and cases == 0:
            return token.start, token.end + 1
        elif token.token_type == TokenType.END and cases:
            cases -= 1
    return None


def _split(sql: str) -> list[tuple[str, int]]:
    """The script's parts between semicolons outside parentheses, each with its offset."""
    out, start, depth = [], 0, 0
    try:
        tokens = BigQuery().tokenize(sql)
    except TokenError as exc:
        raise SqlError(None, f"SQL does not parse: {exc}") from None
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif token.token_type == TokenType.SEMICOLON and depth == 0:
            out.append((sql[start:token.start], start))
            start = token.end + 1
    out.append((sql[start:], start))
    return [(text, at) for text, at in out if _has_code(text)]


def _has_code(text: str) -> bool:
    m = _WORD.match(text)
    return bool(m.group(1)) or bool(text[m.end():].strip())
