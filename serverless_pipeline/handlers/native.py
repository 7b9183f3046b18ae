"""Which processor a native file of the release was built for, read from its first bytes.

A shared library or executable built for the other architecture than its function's fails only
when the function loads it, long after the deployment succeeded; its ELF header says so up front.
Only the header is read (System V ABI, "ELF Header": e_ident is 16 bytes, then the 2-byte
e_type and the 2-byte e_machine), never the code.
"""

from __future__ import annotations

import struct

ELF_MAGIC = b"\x7fELF"
HEADER_BYTES = 20
# e_ident[EI_DATA]: how the header's own fields are stored.
_BYTE_ORDER = {1: "<", 2: ">"}
MACHINES = {"x86_64": 62, "arm64": 183}
"""Each Lambda architecture's e_machine: EM_X86_64 and EM_AARCH64."""
_OTHER_MACHINES = {3: "x86 (32-bit)", 40: "arm (32-bit)", 8: "mips", 21: "ppc64", 22: "s390x"}
# Magic numbers of executables built for another operating system, to say what a bootstrap is.
_FOREIGN = {
    b"MZ": "a Windows (PE) executable",
    b"\xcf\xfa\xed\xfe": "a macOS (Mach-O) executable",
    b"\xca\xfe\xba\xbe": "a macOS universal binary or a Java class",
}


def machine(header: bytes) -> int | None:
    """The e_machine of a file that begins with `header`, or None when it is not ELF."""
    if len(header) < HEADER_BYTES or not header.startswith(ELF_MAGIC):
        return None
    order = _BYTE_ORDER.get(header[5], "<")
    value: int = struct.unpack_from(f"{order}H", header, 18)[0]
    return value


def architecture(number: int) -> str | None:
    """The Lambda architecture that runs code of e_machine `number`, or None: no function can."""
    return next((name for name, machine in MACHINES.items() if machine == number), None)


def machine_name(number: int) -> str:
    return architecture(number) or _OTHER_MACHINES.get(number, f"ELF machine {number}")


def executable_kind(header: bytes) -> str | None:
    """What a custom runtime's bootstrap is, when Lambda cannot start it: None for an ELF
    executable or a script that names its interpreter (#!)."""
    if header.startswith((ELF_MAGIC, b"#!")):
        return None
    for magic, kind in _FOREIGN.items():
        if header.startswith(magic):
            return kind
    return f"neither an ELF executable nor a script starting with #! (it begins {header[:8]!r})"
