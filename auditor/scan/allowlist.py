"""Which callables a pickle may import: an allow-list of what legitimate ML files use, and the machinery that is
known to run code, touch files, open connections or import modules.

The decision is allow-list first: anything not listed as safe is at least suspicious, so an attacker who finds a
gadget nobody has put on a deny-list still gets flagged. The deny-list only decides how loud the flag is.
"""

from __future__ import annotations

from dataclasses import dataclass

SAFE = "safe"
LOCAL = "local"  # a class of the loading program's own ``__main__``: the file names it but carries no code for it
UNKNOWN = "unknown"
DANGEROUS = "dangerous"

# Python 2 spellings that the unpickler maps to their Python 3 modules (``fix_imports``).
_MODULE_ALIASES = {
    "__builtin__": "builtins",
    "copy_reg": "copyreg",
    "exceptions": "builtins",
    "cPickle": "pickle",
    "_compat_pickle": "pickle",
    "commands": "subprocess",
    "urllib2": "urllib.request",
    "httplib": "http.client",
    "SocketServer": "socketserver",
    "thread": "_thread",
    "Queue": "queue",
}

_SAFE_EXACT = frozenset({
    # containers and scalars
    "builtins.set", "builtins.frozenset", "builtins.list", "builtins.dict", "builtins.tuple", "builtins.bytearray",
    "builtins.bytes", "builtins.complex", "builtins.slice", "builtins.range", "builtins.int", "builtins.float",
    "builtins.str", "builtins.bool", "builtins.object", "builtins.NoneType", "builtins.Ellipsis",
    "collections.OrderedDict", "collections.defaultdict", "collections.deque", "collections.Counter",
    "copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__",
    "_codecs.encode", "codecs.encode",
    "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta", "datetime.timezone",
    "decimal.Decimal", "fractions.Fraction", "uuid.UUID",
    # numpy
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer", "numpy.ma.core._mareconstruct", "numpy.ma.core.MaskedArray",
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor", "numpy.random.mtrand.RandomState", "numpy.random.mtrand._rand",
    "numpy.random._mt19937.MT19937", "numpy.random._pcg64.PCG64", "numpy.random._generator.Generator",
    "numpy.random.bit_generator.SeedSequence",
    # torch
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_sparse_tensor", "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy", "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass", "torch._utils._rebuild_qtensor",
    "torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2", "torch.nn.parameter.Parameter",
    "torch.Size", "torch.device", "torch.Tensor", "torch.storage.UntypedStorage", "torch.storage.TypedStorage",
    "torch.storage._TypedStorage", "torch.UntypedStorage", "torch.TypedStorage", "torch.serialization._get_layout",
    "torch.strided", "torch.sparse_coo", "torch.sparse_csr", "torch.per_tensor_affine", "torch.per_channel_affine",
    "torch.contiguous_format", "torch.channels_last", "torch.preserve_format",
    # plain data classes that checkpoints routinely carry (training args, configs)
    "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePosixPath", "pathlib.PureWindowsPath", "pathlib.Path",
    "argparse.Namespace", "typing.Any", "torch.torch_version.TorchVersion",
    "pytorch_lightning.utilities.parsing.AttributeDict", "lightning.fabric.utilities.data.AttributeDict",
    "lightning_fabric.utilities.data.AttributeDict",
    # joblib array wrappers (the array bytes that follow are data, handled by the joblib reader)
    "joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper",
    "joblib.numpy_pickle_compat.ZNDArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    # TorchScript's own pickle helpers (torch/jit/_pickle.py): each returns its argument unchanged
    "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_tensorlist", "torch.jit._pickle.build_doublelist",
    "torch.jit._pickle.build_boollist", "torch.jit._pickle.build_tensor_from_id", "torch.jit._pickle.restore_type_tag",
    # a __future__ feature flag (a plain record); pickled with classes that use postponed annotations
    "__future__.annotations",
})

# CamelCase names of machinery a script may have imported into its own namespace (``from subprocess import
# Popen``): under ``__main__`` they are that machinery, not a class of the script.
_REEXPORTED_MACHINERY = frozenset({"Popen", "FileIO", "Path", "PosixPath", "WindowsPath", "ZipFile", "TarFile", "CDLL",
                                   "PyDLL", "Pickler", "Unpickler", "Thread", "Process", "Timer", "FunctionType",
                                   "CodeType", "ModuleType", "MethodType", "LambdaType", "BuiltinFunctionType",
                                   "Request", "Session", "HTTPConnection", "HTTPSConnection", "SMTP", "FTP"})

# Builtins that compute a value from their arguments and can neither import, execute, open nor reach attributes.
# Calling one of them needs a callable argument to do harm, and that callable is itself an import we judge.
_PURE_BUILTINS = frozenset(
    "len abs min max sum sorted reversed enumerate zip round divmod pow hash isinstance issubclass repr format "
    "chr ord bin hex oct all any ascii NotImplemented".split()
)
# Type annotations and abstract base classes: pickled as references inside dataclass/typing metadata, never code.
_TYPING_MODULES = frozenset({"typing", "typing_extensions", "collections.abc", "_collections_abc"})
_TYPING_UNSAFE = frozenset({"get_type_hints", "ForwardRef", "_eval_type", "evaluate_forward_ref", "_type_check",
                            "NamedTuple", "TypedDict", "NewType", "TypeVar", "ParamSpec", "TypeVarTuple",
                            "dataclass_transform", "runtime_checkable", "cast", "overload", "no_type_check",
                            "no_type_check_decorator", "get_overloads", "clear_overloads", "_idfunc", "_caller"})

_TORCH_DTYPES = frozenset(
    "float float16 half bfloat16 float32 float64 double int8 int16 short int32 int int64 long uint8 uint16 uint32 "
    "uint64 bool complex32 complex64 complex128 cfloat cdouble qint8 quint8 qint32 quint4x2 float8_e4m3fn "
    "float8_e5m2 float8_e4m3fnuz float8_e5m2fnuz".split()
)
_TORCH_STORAGES = frozenset(
    f"{t}Storage" for t in "Float Double Half BFloat16 Long Int Short Char Byte Bool ComplexFloat ComplexDouble "
    "QInt8 QUInt8 QInt32 QUInt4x2 QUInt2x4".split()
)
_NUMPY_SCALARS = frozenset(
    "bool_ int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64 complex64 complex128 str_ "
    "bytes_ object_ void datetime64 timedelta64 longdouble clongdouble intc uintc intp uintp half single double "
    "longlong ulonglong byte ubyte short ushort".split()
)

# Libraries whose classes legitimately appear in pickled estimators and frames. Only class names (CamelCase) and
# the reconstruction helpers the libraries themselves pickle are allowed, and not in their I/O subpackages.
_TRUSTED_CLASS_LIBS = ("sklearn", "scipy", "pandas", "xgboost", "lightgbm", "catboost", "torch.nn.modules",
                       "torch.optim", "transformers", "tokenizers", "numpy.dtypes", "numpy.ma", "numpy.polynomial",
                       "omegaconf", "accelerate.utils.dataclasses", "numpy.random")
_UNTRUSTED_SUBMODULES = ("pandas.io", "scipy.io", "pandas.core.computation", "pandas.plotting", "sklearn.datasets", "sklearn.utils._testing", "sklearn.externals",
                         "transformers.utils.hub", "transformers.dynamic_module_utils", "transformers.pipelines",
                         "transformers.tools", "transformers.agents", "scipy.weave")
_RECONSTRUCT_PREFIXES = ("_unpickle", "__pyx_unpickle", "_new_", "_reconstruct", "_rebuild", "new_block",
                         "__nat_unpickle", "_timedelta_unpickle", "_restore")

# Known machinery: whole modules (and their submodules) ...
_DANGEROUS_MODULES = frozenset({
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "sys", "importlib", "imp",
    "runpy", "pickle", "_pickle", "pickletools", "dill", "cloudpickle", "marshal", "types", "code", "codeop",
    "ctypes", "_ctypes", "cffi", "multiprocessing", "concurrent", "threading", "_thread", "asyncio", "socket",
    "_socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
    "telnetlib", "poplib", "imaplib", "nntplib", "xmlrpc", "socketserver", "webbrowser", "shutil", "tempfile",
    "pathlib", "io", "_io", "glob", "zipfile", "tarfile", "shelve", "dbm", "sqlite3", "pty", "tty", "signal",
    "resource", "pdb", "bdb", "timeit", "cProfile", "profile", "trace", "doctest", "pydoc", "pkgutil",
    "zipimport", "site", "operator", "_operator", "inspect", "gc", "linecache", "compileall", "py_compile",
    "distutils", "setuptools", "pip", "venv", "ensurepip", "pexpect", "paramiko", "fabric", "yaml", "jinja2",
    "logging", "smtpd", "mailbox", "platform", "sysconfig", "fcntl", "mmap", "select",
    "selectors", "builtins.__import__", "torch.hub", "torch.jit", "torch.package", "torch.cuda", "torch.ops",
    "torch._C", "torch.utils.cpp_extension", "torch.library", "torch._dynamo", "torch.distributed",
    "torch.multiprocessing", "torch.backends", "numpy.f2py", "numpy.distutils", "numpy.testing", "numpy.ctypeslib",
    "tensorflow", "keras", "tf_keras", "functools", "copy", "contextlib", "atexit", "faulthandler", "ast",
    "tokenize", "dis", "bz2", "gzip", "lzma", "zlib", "fileinput", "filecmp", "configparser", "netrc",
    "getpass", "pwd", "grp", "crypt", "spwd", "syslog", "readline", "rlcompleter", "tkinter",
    "wsgiref", "cgi", "cgitb", "email", "_sitebuiltins", "dill._dill", "joblib", "sklearn.externals.joblib", "huggingface_hub", "transformers.dynamic_module_utils",
    "transformers.utils.hub", "pandas.io", "scipy.io", "sklearn.datasets",
})
# ... and single callables of otherwise harmless modules.
_DANGEROUS_EXACT = frozenset({
    "builtins.eval", "builtins.exec", "builtins.compile", "builtins.open", "builtins.__import__", "builtins.getattr",
    "builtins.setattr", "builtins.delattr", "builtins.globals", "builtins.locals", "builtins.vars", "builtins.input",
    "builtins.breakpoint", "builtins.help", "builtins.exit", "builtins.quit", "builtins.memoryview",
    "builtins.type", "builtins.super", "builtins.classmethod", "builtins.staticmethod", "builtins.property",
    "builtins.execfile", "builtins.file", "builtins.reload", "builtins.apply", "builtins.print", "builtins.dir",
    "builtins.map", "builtins.filter", "builtins.iter", "builtins.next", "builtins.hasattr", "builtins.callable",
    "builtins.id", "builtins.object.__reduce__", "builtins.object.__getattribute__",
    "torch.load", "torch.save", "torch.storage._load_from_bytes", "torch.serialization.load",
    "torch.serialization.save", "torch.serialization._load", "torch.from_file", "torch.classes",
    "torch._utils._rebuild_xla_tensor", "numpy.load", "numpy.save", "numpy.savez", "numpy.loadtxt",
    "numpy.savetxt", "numpy.genfromtxt", "numpy.fromfile", "numpy.memmap", "numpy.lib.npyio.load",
    "numpy.lib._npyio_impl.load", "numpy.core.memmap.memmap", "numpy._core.memmap.memmap", "numpy.DataSource",
    "numpy.lib.format.read_array", "numpy.lib.format.open_memmap", "numpy.tofile",
    "pandas.read_pickle", "pandas.read_csv", "pandas.eval", "pandas.core.computation.eval.eval",
    "collections.namedtuple", "copyreg._reconstruct", "copyreg.add_extension",
})


def _exception_names() -> frozenset[str]:
    import builtins

    return frozenset(n for n in dir(builtins)
                     if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException))


_BUILTIN_EXCEPTIONS = _exception_names()


@dataclass(frozen=True)
class Verdict:
    level: str  # SAFE | UNKNOWN | DANGEROUS
    qualname: str
    reason: str


def normalise(module: str, name: str) -> tuple[str, str]:
    """The module/name pair the unpickler would really import (Python 2 names mapped as ``fix_imports`` does)."""
    import _compat_pickle  # the stdlib's own mapping tables (plain data)

    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    if module in _compat_pickle.IMPORT_MAPPING:
        return _compat_pickle.IMPORT_MAPPING[module], name
    return _MODULE_ALIASES.get(module, module), name


def _module_in(module: str, modules: frozenset[str]) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:i]) in modules for i in range(1, len(parts) + 1))


def classify(module: str, name: str) -> Verdict:
    """Decide how a ``module``/``name`` import looks. ``name`` may be dotted (protocol 4 resolves attributes)."""
    module, name = normalise(module, name)
    qual = f"{module}.{name}"
    if any(part.startswith("__") and part.endswith("__") for part in name.split(".")) and qual not in _SAFE_EXACT:
        if not any(part.startswith("__pyx_unpickle") for part in name.split(".")) and name not in (
                "__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor", "__newobj__", "__newobj_ex__"):
            return Verdict(DANGEROUS, qual, "reaches a dunder attribute (interpreter internals)")
    if "<" in name or "\n" in name or "\n" in module:
        return Verdict(DANGEROUS, qual, "name that no legitimate pickle contains")
    if qual in _DANGEROUS_EXACT or f"{module}.{name.split('.')[0]}" in _DANGEROUS_EXACT:
        return Verdict(DANGEROUS, qual, _reason(module))
    if qual in _SAFE_EXACT:
        return Verdict(SAFE, qual, "allow-listed")
    reached = _reached_by_walk(module, name)
    if reached is not None:
        return Verdict(DANGEROUS, qual, f"an attribute walk that reaches {reached} ({_reason(reached.split('.')[0])})")
    if module == "builtins" and name in _PURE_BUILTINS:
        return Verdict(SAFE, qual, "pure builtin function")
    if module in _TYPING_MODULES and "." not in name and name not in _TYPING_UNSAFE and not name.startswith("_"):
        return Verdict(SAFE, qual, "type annotation / abstract base class")
    if module.split(".")[0] == "__torch__":
        return Verdict(SAFE, qual, "TorchScript class: compiled from the archive's own code/ members (scanned)")
    if module == "torch" and (name in _TORCH_DTYPES or name in _TORCH_STORAGES):
        return Verdict(SAFE, qual, "torch dtype/storage type")
    if module == "numpy" and name in _NUMPY_SCALARS:
        return Verdict(SAFE, qual, "numpy scalar type")
    if module.startswith("scipy.sparse") and name.endswith(("_matrix", "_array")) and "." not in name:
        return Verdict(SAFE, qual, "scipy sparse container")
    if module == "torch.nn.functional" and "." not in name and not name.startswith("_"):
        return Verdict(SAFE, qual, "tensor function")
    if _module_in(module, _DANGEROUS_MODULES) or _module_in(qual, _DANGEROUS_MODULES):
        return Verdict(DANGEROUS, qual, _reason(module))
    if module == "builtins" and name in _BUILTIN_EXCEPTIONS:
        return Verdict(UNKNOWN, qual, "exception class (data, but not expected in model files)")
    if module == "builtins":
        return Verdict(DANGEROUS, qual, "interpreter builtin outside the data-type allow-list")
    if _trusted_class(module, name):
        return Verdict(SAFE, qual, "class of a trusted ML library")
    if module == "__main__" and name.isidentifier() and name[:1].isupper() and name not in _REEXPORTED_MACHINERY:
        return Verdict(LOCAL, qual, "a class the loading program's own script must define (pickled from __main__)")
    return Verdict(UNKNOWN, qual, "not on the allow-list of callables used by legitimate model files")


def _module_alias(part: str) -> str:
    """``_sys``/``_os`` style private aliases under which modules re-export ``sys``/``os`` (``collections._sys``)."""
    if part in _DANGEROUS_MODULES:
        return part
    bare = part.lstrip("_")
    return bare if bare in _DANGEROUS_MODULES and bare not in ("io", "pickle", "operator", "thread") else part


def _reached_by_walk(module: str, name: str) -> str | None:
    """The dangerous callable a dotted ``name`` walks to through module attributes, or None.

    Protocol 4 resolves ``module`` then each dotted part as an attribute: ``sklearn.utils._joblib`` + ``os.system``
    is ``os.system``, ``torch._utils`` + ``torch.load`` is ``torch.load``. What is reached decides the severity,
    not the module the walk starts from. Only the attribute part is read this way: module paths are judged as
    imports (``scipy.signal`` is not ``signal``)."""
    if "." not in name:
        return None
    attrs = name.split(".")
    for i in range(len(attrs) - 1, -1, -1):  # the innermost module reached decides
        tail = [_module_alias(attrs[i]), *attrs[i + 1:]]
        dotted = ".".join(tail)
        head2 = ".".join(tail[:2])
        if len(tail) >= 2 and (head2 in _DANGEROUS_EXACT or tail[0] in _DANGEROUS_MODULES):
            return dotted
        if dotted in _DANGEROUS_EXACT:
            return dotted
    return None


def _trusted_class(module: str, name: str) -> bool:
    if not any(module == lib or module.startswith(lib + ".") for lib in _TRUSTED_CLASS_LIBS):
        return False
    if any(module == sub or module.startswith(sub + ".") for sub in _UNTRUSTED_SUBMODULES):
        return False
    leaf = name.split(".")[-1] if "." not in name else ""
    if not leaf:
        return False
    return leaf[:1].isupper() or leaf.startswith(_RECONSTRUCT_PREFIXES)


_REASONS = {
    "os": "runs shell commands / touches files", "posix": "runs shell commands / touches files",
    "nt": "runs shell commands / touches files", "subprocess": "starts processes", "builtins": "executes code",
    "runpy": "executes Python code", "importlib": "imports arbitrary modules", "socket": "opens network connections",
    "webbrowser": "launches a browser or helper process", "pickle": "deserialises a nested pickle",
    "_pickle": "deserialises a nested pickle", "dill": "rebuilds functions from bytecode",
    "marshal": "loads bytecode", "types": "builds code/function objects", "operator": "reflective attribute access",
    "shutil": "copies/removes files", "http": "network access", "urllib": "network access",
    "requests": "network access", "ctypes": "calls native code", "torch": "loads/saves files or native code",
    "numpy": "reads/writes files", "io": "opens files", "pathlib": "touches files",
}


def _reason(module: str) -> str:
    top = module.split(".")[0]
    return _REASONS.get(top, "code-execution, file, network or import machinery")


@dataclass(frozen=True)
class DataClassRule:
    """Why classes of one module are records whose rebuilding has no effect, and which rebuilding paths say so."""

    module: str
    why: str
    constructor: bool = False  # the classes pickle themselves as ``(type(self), plain args)``: that call is data too


# Severity follows the effect a load has, not the module a name lives in. ``requests`` and ``http`` are network
# machinery (``requests.get``, ``http.client.HTTPConnection.request``), but what clients *return* and eval harnesses
# cache with pickle are records: a ``requests.models.Response`` rebuilt by the unpickler is ``object.__new__(cls)``
# (``NEWOBJ``, or ``copyreg._reconstructor(cls, object, None)`` at protocols 0-1) followed by ``BUILD`` with its
# saved ``__dict__``; neither runs ``__init__``, and the classes below define no ``__new__``/``__del__`` and a
# ``__setstate__`` that only stores attributes (checked against requests 2.31-2.34, CPython 3.9-3.13 ``http``,
# openai 0.28). Reaching any I/O needs a method call, and a pickle can only reach a method through ``getattr``,
# ``operator``, a dotted attribute walk (``Response.raw``) or ``BUILD`` on the class itself, each judged on its own
# and critical. So a class listed here (a CamelCase name, no attribute walk) that is only *reconstructed* is data and
# gets no finding; called as a function in any other way (``REDUCE``/``INST``/``OBJ`` of the class), it keeps the
# module's verdict, unless the rule says the classes pickle themselves through their constructor with plain
# arguments. Modules are listed whole only where every class they define or import is such a record: a module that
# also holds a class with effects on rebuilding (``tempfile._TemporaryFileCloser.__del__`` deletes its file) stays
# machinery.
DATA_CLASS_RULES: tuple[DataClassRule, ...] = (
    DataClassRule("requests.models", "requests' Request/PreparedRequest/Response records"),
    DataClassRule("requests.structures", "requests' CaseInsensitiveDict/LookupDict containers"),
    DataClassRule("requests.cookies", "requests' cookie jar and its mock request/response views"),
    DataClassRule("http.cookiejar", "the standard library's cookie records and jars (loading needs .load())"),
    DataClassRule("http.cookies", "the standard library's Morsel/SimpleCookie dicts"),
    DataClassRule("openai.openai_object", "openai<1 response objects (dict subclasses)", constructor=True),
    DataClassRule("openai.api_resources", "openai<1 typed response objects (OpenAIObject subclasses)",
                  constructor=True),
)


def data_class(module: str, name: str) -> DataClassRule | None:
    """The rule that makes ``module.name`` a record class whose reconstruction is data, or None. Only a plain
    CamelCase name qualifies: ``Response.raw`` (an attribute walk) or ``get`` (a function) never does."""
    module, name = normalise(module, name)
    if not name.isidentifier() or not name[:1].isupper() or name.isupper():
        return None
    for rule in DATA_CLASS_RULES:
        if module == rule.module or module.startswith(rule.module + "."):
            return rule
    return None


# Imports that carry no model content: containers, scalars and records. A pickle that imports only these (or
# nothing at all) is plain data; it is not a "model in pickle format" (``MLA-PICKLE-FORMAT``).
_PLAIN_DATA_MODULES = frozenset({"collections", "datetime", "decimal", "fractions", "uuid", "copyreg", "codecs",
                                 "_codecs", "typing", "typing_extensions", "enum", "re", "ipaddress", "zoneinfo"})


def plain_data(module: str, name: str) -> bool:
    """Whether an import names a container, scalar or record type rather than anything a model is made of."""
    module, name = normalise(module, name)
    if data_class(module, name) is not None:
        return True
    if module == "builtins":
        return f"builtins.{name}" in _SAFE_EXACT
    return module in _PLAIN_DATA_MODULES and classify(module, name).level == SAFE


# Callables that deserialise their bytes argument: the bytes are scanned as a nested pickle.
NESTED_LOADERS = frozenset({
    "pickle.loads", "_pickle.loads", "dill.loads", "dill._dill.loads", "cloudpickle.loads", "torch.load",
    "torch.storage._load_from_bytes", "joblib.load", "numpy.loads", "pickle._loads",
})
