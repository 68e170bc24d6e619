"""The extension modules and their build switches; metadata lives in pyproject.toml.

STORECORE_DEBUG=1     annotate (HTML), linetrace, -O0 -g
STORECORE_SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer (run with
                      LD_PRELOAD=$(gcc -print-file-name=libasan.so))
"""

import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("STORECORE_DEBUG") == "1"
SANITIZE = os.environ.get("STORECORE_SANITIZE") == "1"

compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
link_args: list[str] = []
macros: list[tuple[str, str | None]] = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if DEBUG:
    macros += [("CYTHON_TRACE_NOGIL", "1"), ("CYTHON_TRACE", "1")]
if SANITIZE:
    flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    compile_args += flags
    link_args += flags

ext_dir = Path("src/storecore/_ext")
extensions = [
    Extension(
        f"storecore._ext.{pyx.stem}",
        [str(pyx)],
        include_dirs=[str(ext_dir)],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        define_macros=macros,
    )
    for pyx in sorted(ext_dir.glob("*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "embedsignature": True,
            "linetrace": DEBUG,
            "profile": False,
        },
        annotate=DEBUG,
        include_path=["src"],
    ),
)
