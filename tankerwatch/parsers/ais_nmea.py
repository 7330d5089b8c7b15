"""Parser for AIS NMEA 0183 logs (kind ``ais_nmea``) into ``raw_ais_positions`` and ``raw_ais_static``."""

from __future__ import annotations

import heapq
import logging
import re
from collections import Counter
from datetime import UTC, datetime
from functools import reduce
from operator import xor
from pathlib import Path
from typing import Any, NamedTuple

from pyais import bit_vector
from pyais.messages import MSG_CLASS

from tankerwatch.errors import ParseError
from tankerwatch.parsers.sink import RowBuffer, TableSink

log = logging.getLogger(__name__)

POSITIONS = "raw_ais_positions"
STATIC = "raw_ais_static"

_POSITION_TYPES = frozenset({1, 2, 3, 18, 19})
_WANTED_TYPES = frozenset({1, 2, 3, 5, 18, 19, 24})

# Bits a payload must hold to cover every field we read (gpsd AIVDM layout).
# pyais decodes a truncated payload without complaint, filling a cut-off field
# from whatever bits remain (a 96-bit type 1 yields lat 3.5e-05), so a short
# payload has to be caught before decoding, not after.
_MIN_BITS = {
    1: 137,  # ... lat (ends 116), course (128), heading (137)
    2: 137,
    3: 137,
    # ... draught (302), destination (302-422); the standard length is 424, but gpsd
    # notes that many transmitters send 420 or 422 bits and treats that as
    # recoverable, so accept it and keep only the destination's whole characters.
    5: 420,
    18: 133,  # ... lat (112), course (124), heading (133)
    19: 271,  # ... heading (133), shipname (263), ship_type (271)
    24: 40,  # up to partno; each part is checked again below
}
_MIN_BITS_24A = 160  # shipname ends at 160
_MIN_BITS_24B = 132  # ship_type (48) ... callsign ends at 132

# The AIS 6-bit armouring alphabet: '0'..'W' and '`'..'w'. pyais does not
# check it and silently decodes anything else into wrong bits.
_PAYLOAD_RE = re.compile(rb"[0-W`-w]+")

# c: beyond year 9999 cannot be a datetime; in practice it means milliseconds.
_MAX_UNIX_SECONDS = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())

_BOM = b"\xef\xbb\xbf"

# Give up early on a large file none of whose first lines is NMEA, instead of
# collecting a reject for every line of, say, a binary download.
_MAX_LEADING_NON_NMEA = 1000


class _Counters:
    """What a parse saw besides rows and rejects; handed to ``sink.count`` at the end."""

    def __init__(self) -> None:
        self.lines = 0
        self.blank_or_comment_lines = 0
        self.sentences = 0  # AIVDM/AIVDO sentences with a valid envelope
        self.messages = 0  # complete AIS messages (after reassembly)
        self.other_nmea_sentences = 0  # valid NMEA but not AIVDM/AIVDO ($GPGGA, $PGHP, !AIABK, ...)
        self.ignored_types: Counter[int] = Counter()  # AIS type -> count, types we do not need
        self.merged = 0  # earlier sentences of multi-sentence messages, accounted by the message's last line
        self.positions = 0
        self.static = 0

    def report(self, sink: TableSink, records: int) -> None:
        for name in ("lines", "blank_or_comment_lines", "sentences", "messages"):
            sink.count(name, getattr(self, name))
        sink.record(records)
        sink.skip("other_nmea_sentences", self.other_nmea_sentences)
        for msg_type, count in sorted(self.ignored_types.items()):
            sink.skip(f"ignored_type:{msg_type}", count)
        sink.merge(self.merged)


class _BadLine(Exception):
    """A line (or message) to be rejected; the message is the reason."""


class _Fragment(NamedTuple):
    line_no: int
    raw: bytes
    payload: bytes
    fill_bits: int
    received_at: int | None


class _LineOrderedRejects:
    """Passes rejects to the sink in line order.

    A fragment is only known to be an orphan lines after it was read, so its
    reject is held back until no pending fragment can still produce an earlier one.
    """

    def __init__(self, sink: TableSink) -> None:
        self._sink = sink
        self._held: list[tuple[int, int, str, str]] = []  # heap of (line, arrival, raw, reason)
        self._arrivals = 0

    def add(self, line_no: int, raw: bytes, reason: str) -> None:
        self._arrivals += 1
        heapq.heappush(self._held, (line_no, self._arrivals, raw.decode("utf-8", "replace"), reason))

    def release(self, pending: dict[Any, list[_Fragment]]) -> None:
        if not self._held:
            return
        floor = min((parts[0].line_no for parts in pending.values()), default=None)
        while self._held and (floor is None or self._held[0][0] < floor):
            line_no, _, raw, reason = heapq.heappop(self._held)
            self._sink.reject(line_no, raw, reason)


def parse_ais_nmea(path: Path, sink: TableSink) -> None:
    """Decode positions (types 1/2/3/18/19) and static data (5, 19, 24) from an NMEA log.

    Counters go to ``sink.count``: lines, blank_or_comment_lines, sentences,
    messages, other_nmea_sentences, and ``ignored_type:<n>`` per AIS type not used.
    """
    path = Path(path)
    stats = _Counters()
    rejects = _LineOrderedRejects(sink)
    out = _Output(sink.buffer(POSITIONS), sink.buffer(STATIC), rejects, stats)
    # Multi-part messages in progress, keyed by what identifies one message on
    # the wire: sentence header (talker + VDM/VDO), channel, sequential id, count.
    pending: dict[tuple[bytes, bytes, bytes, int], list[_Fragment]] = {}
    nmea_lines = 0
    meaningful_lines = 0

    def reject_fragments(frags: list[_Fragment], reason: str) -> None:
        for f in frags:
            rejects.add(f.line_no, f.raw, reason)

    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            rejects.release(pending)
            stats.lines = line_no
            if line_no == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            line = raw.strip()
            if not line or line[:1] == b"#":
                # '#' comments appear in test corpora such as gpsd's; they are not records.
                stats.blank_or_comment_lines += 1
                continue
            meaningful_lines += 1
            first = line[:1]
            if first in (b"!", b"\\"):
                nmea_lines += 1
            elif nmea_lines == 0:
                if first == b"<" and meaningful_lines == 1:
                    raise ParseError(f"{path}: looks like an HTML/XML page, not an NMEA log")
                if meaningful_lines >= _MAX_LEADING_NON_NMEA:
                    raise ParseError(
                        f"{path}: none of the first {meaningful_lines} lines is an NMEA sentence"
                    )

            try:
                received_at, sentence = _split_tag_block(line)
                envelope = _parse_envelope(sentence)
            except _BadLine as exc:
                if not raw.endswith((b"\n", b"\r")):
                    # Only the file's last line can lack a line end; cut inside its sentence, it is the
                    # sign of a truncated download, not of one bad record.
                    raise ParseError(
                        f"{path}: the last line ({line_no}) has no line end and is not a whole sentence "
                        f"({str(exc).rstrip('.')}): the file looks truncated"
                    ) from None
                rejects.add(line_no, line, str(exc))
                continue
            if envelope is None:
                stats.other_nmea_sentences += 1
                continue
            stats.sentences += 1
            header, count, number, seq_id, channel, payload, fill_bits = envelope
            frag = _Fragment(line_no, line, payload, fill_bits, received_at)

            if count == 1:
                out.emit([frag])
                continue

            key = (header, channel, seq_id, count)
            label = _fragment_label(number, count, seq_id, channel)
            if number == 1:
                stale = pending.pop(key, None)
                if stale:
                    reject_fragments(
                        stale,
                        f"Orphan fragment: {_fragment_label(len(stale), count, seq_id, channel)} "
                        f"started but never completed; line {line_no} starts a new message with the same id.",
                    )
                pending[key] = [frag]
                continue
            parts = pending.get(key)
            if parts is None:
                rejects.add(line_no, line, f"Orphan fragment: {label} arrived without its part 1.")
                continue
            if len(parts) != number - 1:
                # A part went missing in between: the payload cannot be stitched together.
                del pending[key]
                reject_fragments(
                    parts + [frag],
                    f"Orphan fragment: {label} arrived after part {len(parts)}, "
                    f"so part {len(parts) + 1} is missing.",
                )
                continue
            parts.append(frag)
            if number == count:
                del pending[key]
                out.emit(parts)

    for (_h, channel, seq_id, count), parts in pending.items():
        reject_fragments(
            parts,
            f"Orphan fragment: {_fragment_label(len(parts), count, seq_id, channel)} "
            f"was never completed by the end of the file.",
        )
    pending.clear()
    rejects.release(pending)

    if meaningful_lines == 0:
        raise ParseError(f"{path}: file is empty")
    if nmea_lines == 0:
        raise ParseError(f"{path}: not an NMEA log (no line starts with '!' or '\\')")

    stats.report(sink, meaningful_lines)
    log.info(
        "%s: %d lines, %d AIS messages, %d positions, %d static rows, ignored types %s",
        path,
        stats.lines,
        stats.messages,
        stats.positions,
        stats.static,
        dict(sorted(stats.ignored_types.items())),
    )


def _fragment_label(number: int, count: int, seq_id: bytes, channel: bytes) -> str:
    seq = seq_id.decode() or "none"
    chan = channel.decode() or "none"
    return f"part {number} of {count} (message id {seq}, channel {chan})"


def _checksum(data: bytes) -> int:
    return reduce(xor, data, 0)


def _split_tag_block(line: bytes) -> tuple[int | None, bytes]:
    """Return (c: unix seconds or None, the sentence after the tag block)."""
    if line[:1] != b"\\":
        return None, line
    end = line.find(b"\\", 1)
    if end < 0:
        raise _BadLine("Malformed tag block: it has no closing backslash.")
    received_at = _parse_tag_block(line[1:end])
    sentence = line[end + 1:]
    if not sentence:
        raise _BadLine("Tag block is not followed by an NMEA sentence.")
    return received_at, sentence


def _parse_tag_block(block: bytes) -> int | None:
    if not block.isascii():
        raise _BadLine("Malformed tag block: it contains non-ASCII bytes.")
    text = block.decode("ascii")
    body, star, given = text.rpartition("*")
    if not star:
        raise _BadLine("Malformed tag block: it has no '*' checksum.")
    if not _is_hex2(given):
        raise _BadLine(f"Malformed tag block: checksum {given!r} is not two hex digits.")
    computed = _checksum(body.encode("ascii"))
    if computed != int(given, 16):
        raise _BadLine(f"Malformed tag block: checksum says {given.upper()} but its fields give {computed:02X}.")
    received_at = None
    seen_c = False
    for item in body.split(","):
        code, colon, value = item.partition(":")
        if not colon or not code:
            raise _BadLine(f"Malformed tag block: field {item!r} is not of the form code:value.")
        if code == "c":
            if seen_c:
                raise _BadLine("Malformed tag block: it has more than one c: field.")
            seen_c = True
            if not (value.isascii() and value.isdigit()):
                raise _BadLine(f"Malformed tag block: c:{value} is not whole unix seconds.")
            received_at = int(value)
            if received_at > _MAX_UNIX_SECONDS:
                raise _BadLine(
                    f"Malformed tag block: c:{value} is past year 9999 as unix seconds (milliseconds?)."
                )
    return received_at


_HEX2_RE = re.compile(r"[0-9A-Fa-f]{2}")


def _is_hex2(text: str) -> bool:
    # int(x, 16) alone would also take '+f' or ' f'.
    return _HEX2_RE.fullmatch(text) is not None


def _parse_envelope(sentence: bytes):
    """Check an NMEA sentence; return its AIVDM/AIVDO fields, or None for other NMEA sentences."""
    lead = sentence[:1]
    if lead == b"$":
        # Parametric sentences ($GPGGA, $PGHP, ...) carry nothing we use, and their
        # checksum is optional in NMEA 0183, so they are skipped unchecked.
        return None
    if lead != b"!":
        raise _BadLine("Not an NMEA sentence: it does not start with '!' or '$'.")
    if not sentence.isascii():
        raise _BadLine("Not an NMEA sentence: it contains non-ASCII bytes.")
    star = sentence.rfind(b"*")
    if star < 0:
        raise _BadLine("NMEA sentence has no '*' checksum.")
    given = sentence[star + 1:].decode("ascii")
    if not _is_hex2(given):
        raise _BadLine(f"NMEA checksum {given!r} is not two hex digits (or text follows it).")
    computed = _checksum(sentence[1:star])
    if computed != int(given, 16):
        raise _BadLine(f"Bad NMEA checksum: the sentence says {given.upper()} but its content gives {computed:02X}.")

    fields = sentence[1:star].split(b",")
    header = fields[0]
    if len(header) != 5 or header[2:] not in (b"VDM", b"VDO"):
        return None
    if len(fields) != 7:
        raise _BadLine(f"Malformed {header.decode()} sentence: {len(fields)} fields instead of 7.")
    _, count_b, number_b, seq_id, channel, payload, fill_b = fields
    if not (count_b.isdigit() and number_b.isdigit() and fill_b.isdigit()):
        raise _BadLine("Malformed AIS sentence: fragment count, fragment number or fill bits is not a number.")
    count, number, fill_bits = int(count_b), int(number_b), int(fill_b)
    if not 1 <= number <= count <= 9:
        raise _BadLine(f"Malformed AIS sentence: fragment {number} of {count} is impossible.")
    if fill_bits > 5:
        raise _BadLine(f"Malformed AIS sentence: {fill_bits} fill bits (at most 5).")
    if not payload:
        raise _BadLine("Empty payload: the sentence carries no AIS data.")
    if not _PAYLOAD_RE.fullmatch(payload):
        bad = next(chr(b) for b in payload if not _PAYLOAD_RE.fullmatch(bytes([b])))
        raise _BadLine(f"Undecodable payload: character {bad!r} is not in the AIS 6-bit alphabet.")
    return header, count, number, seq_id, channel, payload, fill_bits


class _Output:
    """Where decoded messages go: the two row buffers, the rejects and the counters."""

    def __init__(self, positions: RowBuffer, static: RowBuffer, rejects: _LineOrderedRejects, stats: _Counters) -> None:
        self.positions = positions
        self.static = static
        self.rejects = rejects
        self.stats = stats

    def emit(self, parts: list[_Fragment]) -> None:
        """Decode one complete message and append its rows (or a reject)."""
        last = parts[-1]
        row = last.line_no
        self.stats.merged += len(parts) - 1
        received_at = next((p.received_at for p in parts if p.received_at is not None), None)
        # The column is a UTC datetime; microseconds since the epoch convert per batch, not per row.
        received_us = None if received_at is None else received_at * 1_000_000
        payload = parts[0].payload if len(parts) == 1 else b"".join(p.payload for p in parts)
        try:
            msg = _decode(payload, last.fill_bits, self.stats)
        except _BadLine as exc:
            self.rejects.add(row, b"\n".join(p.raw for p in parts), str(exc))
            return
        self.stats.messages += 1
        if msg is None:
            return

        msg_type = msg.msg_type
        mmsi = f"{msg.mmsi:09d}"
        if msg_type in _POSITION_TYPES:
            self.stats.positions += 1
            self.positions.append(
                source_row=row,
                received_at=received_us,
                msg_type=msg_type,
                mmsi=mmsi,
                latitude=msg.lat,
                longitude=msg.lon,
                speed_knots=msg.speed,
                course=msg.course,
                heading=msg.heading,
                nav_status=int(msg.status) if msg_type <= 3 else None,
            )
        if msg_type == 5:
            self._static(
                row,
                received_us,
                5,
                mmsi,
                imo=str(msg.imo) if msg.imo else None,
                call_sign=_text(msg.callsign),
                ship_name=_text(msg.shipname),
                ship_type=int(msg.ship_type),
                draught_m=msg.draught,
                destination=_text(_whole_destination(msg.destination, len(payload) * 6 - last.fill_bits)),
            )
        elif msg_type == 19:
            self._static(row, received_us, 19, mmsi, ship_name=_text(msg.shipname), ship_type=int(msg.ship_type))
        elif msg_type == 24:
            if msg.partno == 0:
                self._static(row, received_us, 24, mmsi, ship_name=_text(msg.shipname))
            else:
                self._static(row, received_us, 24, mmsi, call_sign=_text(msg.callsign), ship_type=int(msg.ship_type))

    def _static(self, row: int, received_us: int | None, msg_type: int, mmsi: str, **fields: Any) -> None:
        self.stats.static += 1
        self.static.append(source_row=row, received_at=received_us, msg_type=msg_type, mmsi=mmsi, **fields)


def _decode(payload: bytes, fill_bits: int, stats: _Counters) -> Any | None:
    """Decode a payload with pyais; None for a valid type we do not need."""
    msg_type = _six_bit(payload[0])
    if not 1 <= msg_type <= 27:
        raise _BadLine(f"Undecodable payload: AIS message type {msg_type} does not exist.")
    if msg_type not in _WANTED_TYPES:
        # Valid AIS we have no use for: skipping the decode also saves the time.
        stats.ignored_types[msg_type] += 1
        return None
    bits = len(payload) * 6 - fill_bits
    need = _MIN_BITS[msg_type]
    if bits < need:
        raise _BadLine(f"Undecodable payload: type {msg_type} needs at least {need} bits, this one has {bits}.")
    if msg_type == 24:
        partno = (_six_bit(payload[6]) >> 2) & 0b11  # bits 38-39 of the 36-41 in char 6
        if partno > 1:
            raise _BadLine(f"Undecodable payload: type 24 part number {partno} does not exist.")
        need = _MIN_BITS_24A if partno == 0 else _MIN_BITS_24B
        if bits < need:
            part = "A" if partno == 0 else "B"
            raise _BadLine(f"Undecodable payload: type 24 part {part} needs at least {need} bits, this one has {bits}.")
    try:
        # pyais's own decode() does exactly this after re-parsing the sentence;
        # the envelope is already checked here, so go straight to the payload.
        return MSG_CLASS[msg_type].from_vector(bit_vector(payload, fill_bits))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is this line's problem only
        raise _BadLine(f"Undecodable payload: pyais failed with {type(exc).__name__}: {exc}") from None


def _whole_destination(destination: str | None, bits: int) -> str | None:
    """Drop a destination character that a short (420/422-bit) type 5 cut off part-way."""
    whole = (bits - 302) // 6
    if destination is None or whole >= 20:
        return destination
    # pyais builds the cut character from the bits it has, which yields a wrong letter.
    return destination[:whole]


def _six_bit(char: int) -> int:
    value = char - 48
    return value - 8 if value > 40 else value


def _text(value: str | None) -> str | None:
    """AIS pads text with '@' (and some transmitters with spaces); nothing left means not available."""
    if value is None:
        return None
    value = value.rstrip("@ ")
    return value or None
