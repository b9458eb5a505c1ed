"""Mutation operators on the Amaranth source of a block (its Python AST), in the spirit of mcy.

Role: list every site where an operator applies in one source file and produce the mutated source
of one mutant. A mutant changes one span of the file (byte offsets from the AST), so the rest of
the file stays as written and the report can show the changed text.

Where operators apply: the hardware-building code, i.e. every function named ``elaborate``, every
function taking the Module as a parameter named ``m`` (helpers such as ``_lzc`` or a component's
``_fsm``), nested functions inside them, and module-level names a block lists (a decode table, the
datapath's window constants). Within those, elaboration-time Python is left alone: ``if``/``while``
tests, ``for`` and comprehension iterators, ``range``/``len``/``getattr``... calls, f-strings,
``and``/``or``/``not``, ``assert``, the shape and name arguments of ``Signal`` (its ``init`` is
mutated) and the arguments of other class constructors (submodules, FIFOs, layouts), and the
``m.Switch``/``m.Case``/``m.State``/``m.FSM`` arguments. ``Mux``, ``Cat``, ``Const`` and ``Array``
are hardware and are mutated.

Operators (mcy's: invert a condition, swap operands, stuck-at a bit, off-by-one a constant, drop a
term; plus operator replacement and dropping an assignment):

    invert_cond       m.If(c) / m.Elif(c) -> m.If(~(c));  Mux(c, a, b) -> Mux(c, b, a)
    swap_operands     a - b, a << b, a >> b, a < b (<=, >, >=) -> b op a;  Cat(a, b, ...) -> Cat(b, a, ...)
    replace_op        + <-> -, * -> +, & <-> |, ^ -> |, << <-> >>, == <-> !=, < <-> <=, > <-> >=
    const_off_by_one  an integer literal n -> n + 1 and (n > 0) n - 1
    stuck_at          x.eq(v) -> x.eq(v with bit 0 tied to 0), and to 1
    drop_term         a op b -> a and -> b (op in & | ^ + *; a - b -> a);  ~a -> a, -a -> a
    drop_assign       one statement of ``m.d.<domain> += [...]`` removed (a lone one: ``+= []``)

Interface:
    OPERATORS                                   operator names
    Mutant                                      one mutant: site, operator, changed text; .key, .apply()
    enumerate_mutants(path, rel, extra=())      every mutant of one file
    STUCK_HELPER                                the function a stuck_at mutant appends to its file
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["OPERATORS", "Mutant", "enumerate_mutants", "STUCK_HELPER"]

OPERATORS = ("invert_cond", "swap_operands", "replace_op", "const_off_by_one", "stuck_at", "drop_term",
             "drop_assign")

# A stuck_at mutant calls this; it is appended to the mutated file (names from amaranth.hdl only).
STUCK_HELPER = '''

def _mutant_stuck(value, bit):
    """``value`` with its bit 0 tied to ``bit`` (the stuck_at mutation operator)."""
    from amaranth.hdl import Cat, Const, Value
    v = Value.cast(value)
    s = Cat(Const(bit, 1), v[1:])
    return s.as_signed() if v.shape().signed else s
'''

# Python calls evaluated at elaboration time: their arguments are not hardware.
_PYTHON_CALLS = {"range", "len", "getattr", "setattr", "hasattr", "enumerate", "zip", "list", "tuple", "dict",
                 "set", "sorted", "reversed", "isinstance", "print", "str", "int", "bool", "max", "min", "abs",
                 "ceil", "log2", "bit_length", "format", "signed", "unsigned", "items", "values", "keys"}
# Value methods whose last argument is a width (a Python int): the value and the index are hardware.
_WIDTH_ARG_CALLS = {"word_select", "bit_select", "replicate"}
# Capitalised callables that build hardware values (other capitalised calls construct objects).
_HW_CALLS = {"Mux", "Cat", "Const", "Array"}
_M_STRUCTURE = {"Switch", "Case", "State", "FSM", "Default"}
_EXCLUDED_KEYWORDS = {"name", "reset_less", "src_loc_at", "width", "depth", "shape"}

_REPLACE_BINOP = {ast.Add: (ast.Sub, "-"), ast.Sub: (ast.Add, "+"), ast.Mult: (ast.Add, "+"),
                  ast.BitAnd: (ast.BitOr, "|"), ast.BitOr: (ast.BitAnd, "&"), ast.BitXor: (ast.BitOr, "|"),
                  ast.LShift: (ast.RShift, ">>"), ast.RShift: (ast.LShift, "<<")}
_BINOP_TEXT = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
               ast.LShift: "<<", ast.RShift: ">>"}
_REPLACE_CMP = {ast.Eq: "!=", ast.NotEq: "==", ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">"}
_CMP_TEXT = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ORDERED_CMP = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


@dataclass(frozen=True)
class Mutant:
    """One mutant: bytes [start, end) of ``file`` replaced by ``replacement``.

    ``original`` / ``mutated`` are the changed text as shown in reports (whitespace collapsed);
    ``variant`` tells apart mutants of one operator at one site (e.g. ``+1`` and ``-1``)."""
    file: str
    line: int
    col: int
    function: str
    operator: str
    variant: str
    original: str
    mutated: str
    start: int
    end: int
    replacement: str
    needs_stuck_helper: bool = False

    @property
    def site(self) -> str:
        return f"{self.file}:{self.line}:{self.col}:{self.operator}:{self.variant}"

    @property
    def key(self) -> str:
        """Unique: nested terms of one chain (``a & b & c``) start at one column; the span tells
        them apart."""
        return f"{self.site}:{self.end - self.start}"

    @property
    def order(self) -> tuple:
        """The sampling order: by site, then the wider of two nested terms first."""
        return self.site, -(self.end - self.start)

    def apply(self, source: bytes) -> bytes:
        out = source[:self.start] + self.replacement.encode() + source[self.end:]
        if self.needs_stuck_helper:
            out = out.rstrip(b"\n") + b"\n" + STUCK_HELPER.encode()
        return out

    def as_dict(self) -> dict:
        d = asdict(self)
        for k in ("start", "end", "replacement", "needs_stuck_helper"):
            d.pop(k)
        return d


def _short(text: str) -> str:
    return " ".join(text.split())


class _Sites:
    def __init__(self, source: bytes, rel: str):
        self.src = source
        self.rel = rel
        starts = [0]
        for i, b in enumerate(source):
            if b == 0x0A:
                starts.append(i + 1)
        self.line_starts = starts
        self.mutants: list[Mutant] = []
        self.func = ""

    # -- offsets and text
    def off(self, line, col):
        return self.line_starts[line - 1] + col

    def span(self, node):
        return self.off(node.lineno, node.col_offset), self.off(node.end_lineno, node.end_col_offset)

    def text(self, node) -> str:
        a, b = self.span(node)
        return self.src[a:b].decode()

    def add(self, node, operator, variant, replacement, original=None, mutated=None, span=None, helper=False):
        a, b = span if span else self.span(node)
        original = self.src[a:b].decode() if original is None else original
        self.mutants.append(Mutant(
            file=self.rel, line=node.lineno, col=node.col_offset, function=self.func, operator=operator,
            variant=variant, original=_short(original), mutated=_short(replacement if mutated is None else mutated),
            start=a, end=b, replacement=replacement, needs_stuck_helper=helper))

    # -- the walk
    def walk(self, node):
        if isinstance(node, (ast.JoinedStr, ast.Assert, ast.BoolOp, ast.Import, ast.ImportFrom, ast.Global,
                             ast.Nonlocal, ast.Raise, ast.ClassDef)):
            return
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return
        self.sites(node)
        if isinstance(node, (ast.For, ast.While)):
            children = node.body + node.orelse
        elif isinstance(node, ast.If):
            children = node.body + node.orelse
        elif isinstance(node, ast.IfExp):
            children = [node.body, node.orelse]
        elif isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            children = [node.elt]
        elif isinstance(node, ast.DictComp):
            children = [node.key, node.value]
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            children = [node.value] if node.value is not None else []
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            children = node.body
        elif isinstance(node, ast.Lambda):
            children = [node.body]
        elif isinstance(node, ast.Call):
            children = self.call_children(node)
        else:
            children = list(ast.iter_child_nodes(node))
        for child in children:
            self.walk(child)

    @staticmethod
    def callee(node: ast.Call) -> str | None:
        if isinstance(node.func, ast.Name):
            return node.func.id
        if isinstance(node.func, ast.Attribute):
            return node.func.attr
        return None

    def call_children(self, node: ast.Call):
        name = self.callee(node)
        if name in _PYTHON_CALLS:
            return []
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and node.func.value.id == "m":
            return [] if name in _M_STRUCTURE else list(node.args)
        keywords = [k.value for k in node.keywords if k.arg not in _EXCLUDED_KEYWORDS]
        if name and name[0].isupper() and name not in _HW_CALLS:
            return [k.value for k in node.keywords if k.arg == "init"]
        if name in _WIDTH_ARG_CALLS:
            return [node.func.value, node.args[0]] if node.args else [node.func.value]
        func = [node.func.value] if isinstance(node.func, ast.Attribute) else [node.func]
        return func + list(node.args) + keywords

    # -- operators at one node
    def sites(self, node):
        if isinstance(node, ast.BinOp):
            self.binop(node)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Invert, ast.USub)):
            if not (isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)):
                self.add(node, "drop_term", "operand", f"({self.text(node.operand)})")
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            self.compare(node)
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            n = node.value
            self.add(node, "const_off_by_one", "+1", str(n + 1))
            if n > 0:
                self.add(node, "const_off_by_one", "-1", str(n - 1))
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.AugAssign):
            self.aug_assign(node)

    def binop(self, node):
        op = type(node.op)
        if op not in _BINOP_TEXT:
            return
        left, right = self.text(node.left), self.text(node.right)
        sym = _BINOP_TEXT[op]
        if op in _REPLACE_BINOP:
            new = _REPLACE_BINOP[op][1]
            self.add(node, "replace_op", new, f"(({left}) {new} ({right}))")
        if op in (ast.Sub, ast.LShift, ast.RShift):
            self.add(node, "swap_operands", "swap", f"(({right}) {sym} ({left}))")
        if op in (ast.BitAnd, ast.BitOr, ast.BitXor, ast.Add, ast.Mult):
            self.add(node, "drop_term", "left", f"({left})")
            self.add(node, "drop_term", "right", f"({right})")
        elif op is ast.Sub:
            self.add(node, "drop_term", "left", f"({left})")

    def compare(self, node):
        op = type(node.ops[0])
        if op not in _CMP_TEXT:
            return
        left, right = self.text(node.left), self.text(node.comparators[0])
        self.add(node, "replace_op", _REPLACE_CMP[op], f"(({left}) {_REPLACE_CMP[op]} ({right}))")
        if op in _ORDERED_CMP:
            self.add(node, "swap_operands", "swap", f"(({right}) {_CMP_TEXT[op]} ({left}))")

    def call(self, node):
        name = self.callee(node)
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "m" \
                and name in ("If", "Elif") and len(node.args) == 1:
            cond = node.args[0]
            self.add(cond, "invert_cond", "not", f"~({self.text(cond)})")
        elif name == "Mux" and len(node.args) == 3 and not node.keywords:
            c, a, b = (self.text(x) for x in node.args)
            self.add(node, "invert_cond", "swap_arms", f"Mux({c}, {b}, {a})")
        elif name == "Cat" and len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
            a0, a1 = node.args[0], node.args[1]
            start, end = self.span(a0)[0], self.span(a1)[1]
            new = f"{self.text(a1)}, {self.text(a0)}"
            self.add(node, "swap_operands", "swap", new, span=(start, end))
        elif name == "eq" and isinstance(func, ast.Attribute) and len(node.args) == 1 and not node.keywords:
            v = node.args[0]
            if isinstance(v, ast.Constant):
                return  # a literal is mutated by const_off_by_one
            for bit in (0, 1):
                text = self.text(v)
                self.add(v, "stuck_at", str(bit), f"_mutant_stuck({text}, {bit})",
                         mutated=f"{text} with bit 0 stuck at {bit}", helper=True)

    def aug_assign(self, node):
        t = node.target
        if not (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Attribute) and t.value.attr == "d"
                and isinstance(t.value.value, ast.Name) and t.value.value.id == "m"):
            return
        v = node.value
        if isinstance(v, ast.List) and v.elts:
            elts = v.elts
            for i, e in enumerate(elts):
                if len(elts) == 1:
                    span = self.span(e)
                elif i + 1 < len(elts):
                    span = (self.span(e)[0], self.span(elts[i + 1])[0])
                else:
                    span = (self.span(elts[i - 1])[1], self.span(e)[1])
                self.add(e, "drop_assign", f"item{i}", "", original=self.text(e), mutated="(removed)", span=span)
        elif not isinstance(v, ast.List):
            self.add(v, "drop_assign", "all", "[]")


def _qualifies(fn: ast.FunctionDef, extra) -> bool:
    args = [a.arg for a in fn.args.args + fn.args.posonlyargs + fn.args.kwonlyargs]
    return fn.name == "elaborate" or "m" in args or fn.name in extra


def enumerate_mutants(path: Path, rel: str, extra=()) -> list[Mutant]:
    """Every mutant of the hardware-building code of one file (see the module docstring).

    ``extra``: names of module-level functions or assignments to mutate as well."""
    source = Path(path).read_bytes()
    tree = ast.parse(source)
    sites = _Sites(source, rel)

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if _qualifies(child, extra):
                    sites.func = prefix + child.name
                    sites.walk(child)
                else:
                    visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            elif isinstance(child, (ast.Assign, ast.AnnAssign)) and node is tree:
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if any(n in extra for n in names) and child.value is not None:
                    sites.func = names[0]
                    sites.walk(child.value)

    visit(tree, "")
    # one mutant per (span, replacement): two operators can produce the same text
    seen, unique = set(), []
    for mu in sites.mutants:
        sig = (mu.start, mu.end, mu.replacement, mu.needs_stuck_helper)
        if sig not in seen:
            seen.add(sig)
            unique.append(mu)
    return unique
