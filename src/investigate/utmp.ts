/**
 * The glibc utmp/wtmp record as written on Linux x86_64 and aarch64 (and every other 64-bit glibc
 * target with __WORDSIZE_TIME64_COMPAT32): 384 bytes, little-endian, fixed-size NUL-padded strings.
 *
 *   off size field
 *     0    2 ut_type (int16) + 2 bytes padding
 *     4    4 ut_pid (int32)
 *     8   32 ut_line   (tty without "/dev/", or "~" for boot/shutdown/runlevel records)
 *    40    4 ut_id
 *    44   32 ut_user
 *    76  256 ut_host
 *   332    4 ut_exit (e_termination int16, e_exit int16)
 *   336    4 ut_session (int32)
 *   340    8 ut_tv (tv_sec, tv_usec: 32 bits each, not time_t — that is what keeps the layout
 *             identical for 32-bit programs on the same machine)
 *   348   16 ut_addr_v6 (4 x int32 in network byte order: the raw address bytes)
 *   364   20 unused
 *
 * The files are written by login programs (sshd, login, systemd) and can be edited by anyone who got
 * root, so every byte is untrusted: the parser never throws on data, it returns what it could read
 * and a list of problems with the byte offset where each was seen.
 */
import { canonicalAddress } from '../util/ip.js';

export const UTMP_RECORD_SIZE = 384;

export const UtmpType = {
  EMPTY: 0,
  RUN_LVL: 1,
  BOOT_TIME: 2,
  NEW_TIME: 3,
  OLD_TIME: 4,
  INIT_PROCESS: 5,
  LOGIN_PROCESS: 6,
  USER_PROCESS: 7,
  DEAD_PROCESS: 8,
  ACCOUNTING: 9,
} as const;

export type UtmpTypeName = keyof typeof UtmpType;

const TYPE_NAMES: readonly UtmpTypeName[] = [
  'EMPTY', 'RUN_LVL', 'BOOT_TIME', 'NEW_TIME', 'OLD_TIME', 'INIT_PROCESS', 'LOGIN_PROCESS', 'USER_PROCESS', 'DEAD_PROCESS', 'ACCOUNTING',
];

/** Field offsets and sizes, shared by the reader and the writer so they cannot drift apart. */
const F = {
  type: 0, pid: 4,
  line: [8, 32], id: [40, 4], user: [44, 32], host: [76, 256],
  exitTermination: 332, exitStatus: 334, session: 336, sec: 340, usec: 344,
  addr: [348, 16],
} as const;

export interface UtmpRecord {
  /** Byte offset of the record in the (decompressed) data it was read from. */
  readonly offset: number;
  /** Raw ut_type; may be outside 0-9 in a damaged or forged file. */
  readonly type: number;
  /** Name of the type, "UNKNOWN" outside 0-9. */
  readonly typeName: UtmpTypeName | 'UNKNOWN';
  readonly pid: number;
  readonly line: string;
  readonly id: string;
  readonly user: string;
  readonly host: string;
  readonly exit: { readonly termination: number; readonly status: number };
  readonly session: number;
  /** ut_tv.tv_sec, seconds since the epoch. */
  readonly sec: number;
  readonly usec: number;
  /** ut_addr_v6 in canonical text, or null when all zero (a local login, a boot record). */
  readonly address: string | null;
  /** Every one of the 384 bytes is zero. */
  readonly zeroed: boolean;
}

export type UtmpProblemKind = 'partial-record' | 'zeroed' | 'unknown-type' | 'bad-time' | 'bad-usec';

export interface UtmpProblem {
  readonly kind: UtmpProblemKind;
  /** Byte offset in the data where the problem was seen. */
  readonly offset: number;
  readonly message: string;
}

export interface UtmpParse {
  readonly records: UtmpRecord[];
  readonly problems: UtmpProblem[];
}

export interface ParseOptions {
  /** "Now" in seconds, to recognise times in the future. Default: the clock. */
  readonly now?: number;
  /** Tolerated clock skew for "in the future", seconds. Default 1 day. */
  readonly futureSlack?: number;
}

/** No Linux login record can predate 1990: older times are forged or garbage. */
export const EARLIEST_PLAUSIBLE = Date.UTC(1990, 0, 1) / 1000;

/**
 * Parses utmp/wtmp data. When the size is not a multiple of 384 the records are aligned from the
 * start and the incomplete tail is reported — a write cut short (disk full, crash) leaves exactly
 * that. If aligning from the end reads clearly better (the head of the file was cut off instead),
 * that alignment is used and the incomplete head is reported.
 */
export function parseUtmp(data: Uint8Array, options: ParseOptions = {}): UtmpParse {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const rest = buf.length % UTMP_RECORD_SIZE;
  if (rest === 0) return parseAligned(buf, 0, options);
  const fromStart = parseAligned(buf, 0, options);
  const fromEnd = parseAligned(buf, rest, options);
  const useEnd = plausibility(fromEnd) > plausibility(fromStart);
  const chosen = useEnd ? fromEnd : fromStart;
  const partialAt = useEnd ? 0 : buf.length - rest;
  const where = useEnd ? 'at the start (the head of the file was cut off?)' : 'at the end (a write cut short, or the file was truncated?)';
  chosen.problems.unshift({
    kind: 'partial-record',
    offset: partialAt,
    message: `size ${buf.length} is not a multiple of ${UTMP_RECORD_SIZE}: ${rest} bytes of an incomplete record ${where}; they were skipped`,
  });
  return chosen;
}

function parseAligned(buf: Buffer, start: number, options: ParseOptions): { records: UtmpRecord[]; problems: UtmpProblem[] } {
  const records: UtmpRecord[] = [];
  const problems: UtmpProblem[] = [];
  const now = options.now ?? Date.now() / 1000;
  const latest = now + (options.futureSlack ?? 86_400);
  for (let off = start; off + UTMP_RECORD_SIZE <= buf.length; off += UTMP_RECORD_SIZE) {
    const r = decodeRecord(buf, off);
    records.push(r);
    if (r.zeroed) {
      problems.push({ kind: 'zeroed', offset: off, message: 'record is all zero bytes' });
      continue;
    }
    if (r.typeName === 'UNKNOWN') problems.push({ kind: 'unknown-type', offset: off, message: `unknown record type ${r.type}` });
    // An EMPTY slot (a freed utmp entry) legitimately carries no time.
    if (r.type !== UtmpType.EMPTY) {
      if (r.sec < EARLIEST_PLAUSIBLE) problems.push({ kind: 'bad-time', offset: off, message: `time ${describeTime(r.sec)} is before 1990` });
      else if (r.sec > latest) problems.push({ kind: 'bad-time', offset: off, message: `time ${describeTime(r.sec)} is in the future` });
    }
    if (r.usec > 999_999) problems.push({ kind: 'bad-usec', offset: off, message: `microseconds ${r.usec} out of range (0-999999)` });
  }
  return { records, problems };
}

/**
 * How much a parse looks like real records: the number of typed records without problems. A
 * misaligned read yields unknown types and absurd times, or reads type 0 out of the zero padding
 * of a string field, so EMPTY records do not count.
 */
function plausibility(p: UtmpParse): number {
  const bad = new Set(p.problems.map((x) => x.offset));
  return p.records.filter((r) => r.type !== UtmpType.EMPTY && !bad.has(r.offset)).length;
}

function describeTime(sec: number): string {
  const ms = sec * 1000;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? `${sec} (${new Date(ms).toISOString()})` : String(sec);
}

export function decodeRecord(buf: Buffer, off: number): UtmpRecord {
  const type = buf.readInt16LE(off + F.type);
  let zeroed = true;
  for (let i = off; i < off + UTMP_RECORD_SIZE; i++) if (buf[i] !== 0) { zeroed = false; break; }
  return {
    offset: off,
    type,
    typeName: TYPE_NAMES[type] ?? 'UNKNOWN',
    pid: buf.readInt32LE(off + F.pid),
    line: cString(buf, off + F.line[0], F.line[1]),
    id: cString(buf, off + F.id[0], F.id[1]),
    user: cString(buf, off + F.user[0], F.user[1]),
    host: cString(buf, off + F.host[0], F.host[1]),
    exit: { termination: buf.readInt16LE(off + F.exitTermination), status: buf.readInt16LE(off + F.exitStatus) },
    session: buf.readInt32LE(off + F.session),
    // Unsigned: glibc 2.40 made these fields uint32 to carry them past 2038; a negative value under
    // the old int32 reading shows up here as a time after 2038 and is reported as impossible anyway.
    sec: buf.readUInt32LE(off + F.sec),
    usec: buf.readUInt32LE(off + F.usec),
    address: decodeAddress(buf.subarray(off + F.addr[0], off + F.addr[0] + F.addr[1])),
    zeroed,
  };
}

/**
 * A fixed-size field up to its first NUL. Bytes are decoded as UTF-8 with replacement characters
 * for invalid sequences; callers must still escape control characters before printing.
 */
function cString(buf: Buffer, start: number, size: number): string {
  const field = buf.subarray(start, start + size);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? size : nul).toString('utf8');
}

/**
 * ut_addr_v6: IPv4 when only the first 32-bit word is set (that is how sshd and login store an IPv4
 * peer), IPv4-mapped IPv6 folded to IPv4, anything else IPv6. All zero: no address.
 */
export function decodeAddress(bytes: Uint8Array): string | null {
  if (bytes.length !== 16) return null;
  if (bytes.every((b) => b === 0)) return null;
  const tailZero = bytes.subarray(4).every((b) => b === 0);
  if (tailZero) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return canonicalAddress(words.join(':'))?.text ?? null;
}

/** The inverse of decodeAddress: 16 bytes for ut_addr_v6 (IPv4 in the first word). */
export function encodeAddress(text: string | null | undefined): Buffer {
  const out = Buffer.alloc(16);
  if (!text) return out;
  const a = canonicalAddress(text);
  if (!a) throw new Error(`encodeAddress: "${text}" is not an IP address`);
  if (a.family === 4) {
    a.text.split('.').forEach((q, i) => { out[i] = Number(q); });
    return out;
  }
  const expanded = expandV6(a.text);
  expanded.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

function expandV6(text: string): number[] {
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':').map((x) => parseInt(x, 16)) : [];
  const t = tail ? tail.split(':').map((x) => parseInt(x, 16)) : [];
  return tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

export interface UtmpInput {
  type: number;
  pid?: number;
  line?: string;
  id?: string;
  user?: string;
  host?: string;
  exit?: { termination: number; status: number };
  session?: number;
  /** Seconds since the epoch (stored as 32 bits). */
  sec: number;
  usec?: number;
  /** IPv4 or IPv6 text; mapped addresses are stored as IPv4 (first word), like sshd does. */
  address?: string | null;
}

/**
 * Writes one record in the real on-disk layout (for test fixtures and tools). Strings longer than
 * their field are cut, exactly as the C code's strncpy would; a field filled to the brim has no NUL.
 */
export function encodeUtmp(r: UtmpInput): Buffer {
  const buf = Buffer.alloc(UTMP_RECORD_SIZE);
  buf.writeInt16LE(r.type, F.type);
  buf.writeInt32LE(r.pid ?? 0, F.pid);
  putString(buf, r.line ?? '', F.line);
  putString(buf, r.id ?? '', F.id);
  putString(buf, r.user ?? '', F.user);
  putString(buf, r.host ?? '', F.host);
  buf.writeInt16LE(r.exit?.termination ?? 0, F.exitTermination);
  buf.writeInt16LE(r.exit?.status ?? 0, F.exitStatus);
  buf.writeInt32LE(r.session ?? 0, F.session);
  buf.writeUInt32LE(r.sec >>> 0, F.sec);
  buf.writeUInt32LE((r.usec ?? 0) >>> 0, F.usec);
  encodeAddress(r.address).copy(buf, F.addr[0]);
  return buf;
}

function putString(buf: Buffer, value: string, [start, size]: readonly [number, number]): void {
  Buffer.from(value, 'utf8').subarray(0, size).copy(buf, start);
}
