"""ZIP archives: every member becomes documents through parse_child, within path, size, count and depth limits."""

from __future__ import annotations

import io
import re
import stat
import zipfile

from ingest.document import ParsedDocument
from ingest.parsers.base import ChildOutcome, ExpansionBudget, ParseContext, ParseFailure, SkipFile, parse_member

_READ_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_NOISE_PREFIXES = ("__MACOSX/",)  # macOS resource forks: copies of metadata, never documents


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's path as its creator meant it: names flagged cp437 are often really UTF-8."""
    name = info.filename
    if not info.flag_bits & _UTF8_FLAG and not name.isascii():
        try:
            return name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def is_unsafe(name: str) -> bool:
    """Absolute paths, drive letters and ".." components could escape wherever the member lands."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return True
    return any(part == ".." for part in re.split(r"[/\\]", name))


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


class ZipParser:
    """.zip: members parsed recursively (nested zips included) as `archive.zip/inner/path` documents."""

    extensions = (".zip",)

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Check the whole archive against the limits first, then read and parse member by member."""
        limits = ctx.limits
        if ctx.depth >= limits.archive_max_depth:
            message = f"{source}: archives nested more than {limits.archive_max_depth} deep are not unpacked"
            raise ParseFailure("archive_limit", message)
        budget = ctx.budget if ctx.budget is not None else ExpansionBudget(limits.archive_max_bytes)
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
            raise ParseFailure("corrupt_file", f"{source}: not a readable zip archive ({e})") from e
        with zf:
            files = [i for i in zf.infolist() if not (i.is_dir() or i.filename.startswith(_NOISE_PREFIXES))]
            if not files:
                raise SkipFile("empty", f"{source}: no files in the archive")
            if len(files) > limits.archive_max_members:
                message = f"{source}: {len(files)} members, more than the limit of {limits.archive_max_members}"
                raise ParseFailure("archive_limit", message)
            if all(i.flag_bits & _ENCRYPTED_FLAG for i in files):
                raise ParseFailure("corrupt_file", f"{source}: encrypted archive (a password is needed to read it)")
            return self._members(zf, files, source, ctx, budget)

    def _members(
        self,
        zf: zipfile.ZipFile,
        files: list[zipfile.ZipInfo],
        source: str,
        ctx: ParseContext,
        budget: ExpansionBudget,
    ) -> list[ParsedDocument]:
        wanted: list[tuple[zipfile.ZipInfo, str]] = []
        seen: set[str] = set()
        for info in files:
            name = member_name(info)
            child = f"{source}/{name}"
            refused = _screen(info, name, child, seen, ctx.limits.max_file_bytes)
            if refused is not None:
                ctx.outcomes.append(refused)
            else:
                seen.add(name)
                wanted.append((info, child))

        # Declared sizes first: a bomb is refused before anything is inflated. zipfile never
        # returns more than the declared size, and the bytes actually read are counted too.
        declared = sum(info.file_size for info, _ in wanted)
        if declared > budget.remaining:
            raise ParseFailure(
                "archive_limit",
                f"{source}: would unpack to {declared} bytes, more than the {budget.remaining} "
                f"left of the limit of {budget.limit}",
            )
        docs: list[ParsedDocument] = []
        for index, (info, child) in enumerate(wanted):
            try:
                payload = _read(zf, info, child, ctx.limits.max_file_bytes, budget)
            except SkipFile as e:
                ctx.outcomes.append(ChildOutcome(child, "skipped", e.reason, str(e)))
                continue
            except ParseFailure as e:
                ctx.outcomes.append(ChildOutcome(child, "failed", e.code, str(e)))
                if e.code == "archive_limit":  # the budget is spent: the rest cannot be unpacked either
                    ctx.outcomes.extend(
                        ChildOutcome(c, "failed", "archive_limit", f"{c}: not unpacked, the archive limit was reached")
                        for _, c in wanted[index + 1 :]
                    )
                    break
                continue
            docs.extend(parse_member(ctx, payload, child))
        return docs


def _screen(info: zipfile.ZipInfo, name: str, child: str, seen: set[str], max_bytes: int) -> ChildOutcome | None:
    """Why a member is not unpacked at all, or None when it should be."""
    from ingest.parsers import check_supported

    if is_unsafe(name):
        return ChildOutcome(child, "failed", "unsafe_path", f"{child}: unsafe member path (absolute or '..')")
    if _is_symlink(info):
        return ChildOutcome(child, "skipped", "symlink", f"{child}: a symbolic link, not a file")
    if name in seen:
        return ChildOutcome(child, "failed", "duplicate_source", f"{child}: a second member with this path")
    if info.flag_bits & _ENCRYPTED_FLAG:
        return ChildOutcome(child, "failed", "corrupt_file", f"{child}: encrypted member (a password is needed)")
    if info.file_size > max_bytes:
        message = f"{child}: {info.file_size} bytes, more than the limit of {max_bytes}"
        return ChildOutcome(child, "skipped", "too_large", message)
    try:
        check_supported(child)  # before inflating: an unsupported member costs neither time nor budget
    except SkipFile as e:
        return ChildOutcome(child, "skipped", e.reason, str(e))
    return None


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, child: str, max_bytes: int, budget: ExpansionBudget) -> bytes:
    """The member's bytes, counted as they are inflated, never more than `max_bytes` of them."""
    out = bytearray()
    try:
        with zf.open(info) as f:
            while chunk := f.read(_READ_CHUNK):
                out += chunk
                if len(out) > max_bytes:
                    raise SkipFile("too_large", f"{child}: more than the limit of {max_bytes} bytes")
                if not budget.charge(len(chunk)):
                    raise ParseFailure("archive_limit", f"{child}: unpacking it exceeds the limit of {budget.limit} bytes")
    except (SkipFile, ParseFailure):
        raise
    except Exception as e:  # BadZipFile (bad CRC), zlib.error, NotImplementedError (compression), EOFError...
        raise ParseFailure("corrupt_file", f"{child}: cannot be unpacked ({type(e).__name__}: {e})") from e
    return bytes(out)
