// Files through WASI: a path is opened relative to the preopened directory that holds it (the runtime's
// `--dir`, as wasi-libc resolves paths), and an input is read in chunks into one buffer that lines or binary
// records are taken from. Nothing here knows about events.

import {
  errno, fd_close, fd_datasync, fd_fdstat_get, fd_prestat_dir_name, fd_prestat_get, fd_read, fd_sync, fdflags, fdstat, filestat,
  filetype, lookupflags, oflags, path_filestat_get, path_open, path_rename, path_unlink_file, preopentype, prestat, rights,
} from "bindings/wasi_snapshot_preview1";

const scratch = memory.data(24, 8);

/** openFile's openError for a file read whole that is not a regular file (not a WASI error number, which are >= 0) */
export const NOT_REGULAR_FILE: i32 = -2;

/** A short reason for a WASI error number, as the phasor CLI words them (host/files.ts ioReason). */
export function errnoReason(code: i32): string {
  if (code == NOT_REGULAR_FILE) return "not a regular file (a pipe or a device), and a file read whole from one may never end";
  if (code == errno.NOENT) return "no such file";
  if (code == errno.ACCES || code == errno.NOTCAPABLE || code == errno.PERM) return "permission denied";
  if (code == errno.ISDIR) return "it is a directory";
  if (code == errno.NOTDIR) return "a part of the path is not a directory";
  if (code == errno.ROFS) return "read-only file system";
  if (code == errno.NOSPC) return "no space left on the device";
  if (code == errno.DQUOT) return "disk quota exceeded";
  if (code == errno.IO) return "input/output error";
  if (code == errno.PIPE) return "the reader went away";
  if (code == errno.LOOP) return "too many levels of symbolic links";
  if (code == errno.NAMETOOLONG) return "the name is too long";
  if (code == errno.MFILE || code == errno.NFILE) return "too many open files";
  if (code == errno.NOMEM) return "out of memory";
  if (code == errno.FBIG) return "the file is too large";
  if (code == errno.INVAL) return "invalid argument";
  if (code == errno.BADF) return "not an open file";
  return "the runtime refused it";
}

/** Error number of the last failed openFile, or 0 when no preopened directory holds the path. */
export let openError: i32 = 0;

/** What preopenOf found: the preopened directory's descriptor and the path within it. */
let preopenFd = -1;
let pathWithin: usize = 0;
let pathWithinLength = 0;

/**
 * Whether a preopened directory holds `path` (UTF-8 bytes at [path, path + length)): the one whose name is the
 * longest prefix of the path; "." holds every relative path. Sets preopenFd and the path within it.
 */
export function preopenOf(path: usize, length: i32): bool {
  // "./a/b" is "a/b"
  while (length >= 2 && load<u8>(path) == 46 && load<u8>(path, 1) == 47) {
    path += 2;
    length -= 2;
  }
  const absolute = length > 0 && load<u8>(path) == 47;
  let bestFd = -1;
  let bestName = -1; // length of the matched directory name
  const name = memory.data(4096);
  for (let fd = 3; ; fd++) {
    if (fd_prestat_get(fd, changetype<prestat>(scratch)) != errno.SUCCESS) break;
    if (load<u8>(scratch) != preopentype.DIR) continue;
    let n = <i32>load<u32>(scratch, 4);
    if (n > 4096 || fd_prestat_dir_name(fd, name, n) != errno.SUCCESS) continue;
    while (n > 0 && load<u8>(name + <usize>(n - 1)) == 0) n--; // some runtimes count a terminating zero
    while (n > 1 && load<u8>(name + <usize>(n - 1)) == 47) n--; // "dir/" is "dir"
    let start = 0;
    while (n - start >= 2 && load<u8>(name + <usize>start) == 46 && load<u8>(name + <usize>start + 1) == 47) start += 2;
    const dir = name + <usize>start;
    const dirLength = n - start;
    let matched = -1;
    if (dirLength == 0 || (dirLength == 1 && load<u8>(dir) == 46)) {
      if (!absolute) matched = 0;
    } else if (dirLength == 1 && load<u8>(dir) == 47) {
      if (absolute) matched = 1;
    } else if (dirLength <= length && memory.compare(dir, path, <usize>dirLength) == 0 && (dirLength == length || load<u8>(path + <usize>dirLength) == 47)) {
      matched = dirLength;
    }
    if (matched > bestName) {
      bestName = matched;
      bestFd = fd;
    }
  }
  if (bestFd < 0) return false;
  let rest = path + <usize>bestName;
  let restLength = length - bestName;
  while (restLength > 0 && load<u8>(rest) == 47) {
    rest++;
    restLength--;
  }
  if (restLength == 0) {
    store<u8>(scratch, 46);
    rest = scratch;
    restLength = 1;
  }
  preopenFd = bestFd;
  pathWithin = rest;
  pathWithinLength = restLength;
  return true;
}

/**
 * Opens `path` for reading: a file descriptor, or -1 with openError set (0: no preopened directory holds it). A file
 * that is read `whole` (the model, a readout) must be a regular file (NOT_REGULAR_FILE): a pipe would be waited on
 * without end, /dev/zero read until memory runs out. It is opened NONBLOCK, so that opening a pipe without a
 * writer returns at once where the runtime passes the flag on (wasmtime, WAMR); wasm3's simple WASI does not, and
 * there such an open waits (docs/wasi.md). Events are not read whole: a pipe is how they stream.
 */
export function openFile(path: usize, length: i32, whole: bool = false): i32 {
  if (!preopenOf(path, length)) {
    openError = 0;
    return -1;
  }
  const flags = whole ? fdflags.NONBLOCK : 0;
  const status = path_open(preopenFd, lookupflags.SYMLINK_FOLLOW, pathWithin, pathWithinLength, 0, rights.FD_READ | rights.FD_SEEK | rights.FD_FILESTAT_GET, 0, flags, scratch + 8);
  if (status != errno.SUCCESS) {
    openError = status;
    return -1;
  }
  const fd = <i32>load<u32>(scratch, 8);
  // runtimes open a directory for reading and only fail on the first read, each with its own error: say it here
  // (the command stops on it, so the descriptor is not closed)
  if (fd_fdstat_get(fd, changetype<fdstat>(scratch)) == errno.SUCCESS) {
    const kind = load<u8>(scratch);
    if (kind == filetype.DIRECTORY) {
      openError = errno.ISDIR;
      return -1;
    }
    if (whole && kind != filetype.REGULAR_FILE) {
      fd_close(fd);
      openError = NOT_REGULAR_FILE;
      return -1;
    }
  }
  return fd;
}

const stat = memory.data(offsetof<filestat>(), 8);

export const NOT_REGULAR_DIRECTORY = 1;
export const NOT_REGULAR_OTHER = 2;

/**
 * Whether something other than a regular file is at `path`, which a replacement (openPartial, commitPartial) would
 * replace rather than write to: NOT_REGULAR_DIRECTORY, NOT_REGULAR_OTHER (a device, a socket, or a pipe, which WASI
 * calls "unknown"), or 0 when it is a regular file (or a link to one), absent, or not in a preopened directory
 * (openPartial says so).
 */
export function notRegular(path: usize, length: i32): i32 {
  if (!preopenOf(path, length)) return 0;
  if (path_filestat_get(preopenFd, lookupflags.SYMLINK_FOLLOW, pathWithin, pathWithinLength, changetype<filestat>(stat)) != errno.SUCCESS) return 0;
  const kind = changetype<filestat>(stat).filetype;
  return kind == filetype.REGULAR_FILE ? 0 : kind == filetype.DIRECTORY ? NOT_REGULAR_DIRECTORY : NOT_REGULAR_OTHER;
}

/** The file a replacement is written to: its preopened directory, its path within it and its target's, or fd -1. */
let partialDir = -1;
let partialPath: usize = 0;
let partialLength = 0;
let targetPath: usize = 0;
let targetLength = 0;
const PARTIAL_SUFFIX = ".partial";

/**
 * Opens a new file beside `path`, `path` + ".partial", for the bytes that are to replace `path` whole
 * (commitPartial renames it over `path`, so that a write that fails leaves `path` as it was): a file descriptor,
 * or -1 with openError set as openFile sets it. The file is created only if no file has its name (EXIST: one a
 * stopped run left, or a file of the user's, is neither emptied nor moved).
 */
export function openPartial(path: usize, length: i32): i32 {
  if (!preopenOf(path, length)) {
    openError = 0;
    return -1;
  }
  // the paths are kept: preopenOf points into memory that later calls reuse
  partialDir = preopenFd;
  targetLength = pathWithinLength;
  targetPath = heap.alloc(<usize>targetLength);
  memory.copy(targetPath, pathWithin, <usize>targetLength);
  partialLength = targetLength + PARTIAL_SUFFIX.length;
  partialPath = heap.alloc(<usize>partialLength);
  memory.copy(partialPath, targetPath, <usize>targetLength);
  for (let k = 0; k < PARTIAL_SUFFIX.length; k++) store<u8>(partialPath + <usize>(targetLength + k), <u8>PARTIAL_SUFFIX.charCodeAt(k));
  const status = path_open(partialDir, 0, partialPath, partialLength, oflags.CREAT | oflags.EXCL, rights.FD_WRITE | rights.FD_SYNC, 0, 0, scratch + 8);
  if (status != errno.SUCCESS) {
    openError = status;
    return -1;
  }
  return <i32>load<u32>(scratch, 8);
}

/**
 * The partial file of openPartial, written: flushed to the disk, closed and renamed over its target. 0, or the WASI
 * error that stopped it (the partial file is then removed and the target left as it was).
 */
export function commitPartial(fd: i32): i32 {
  let status = fd_sync(fd);
  const closed = fd_close(fd);
  if (status == errno.SUCCESS) status = closed;
  if (status == errno.SUCCESS) status = path_rename(partialDir, partialPath, partialLength, partialDir, targetPath, targetLength);
  if (status != errno.SUCCESS) path_unlink_file(partialDir, partialPath, partialLength);
  return status;
}

/** Closes and removes the partial file of openPartial (its write failed): the target stays as it was. */
export function dropPartial(fd: i32): void {
  fd_close(fd);
  path_unlink_file(partialDir, partialPath, partialLength);
}

/**
 * Opens `path` to be written in place (--readout-write in-place), created or emptied, as a shell's `> path` does (a
 * pipe or a device there is written to): a file descriptor, or -1 with openError set as openFile sets it. For
 * runtimes whose WASI has no path_rename, path_unlink_file, path_filestat_get or fd_sync, which a replacement takes
 * (wasm3 built with its "simple" WASI says "function body is missing" and stops): this and closeInPlace take
 * path_open, fd_fdstat_get, fd_datasync and fd_close only.
 */
export function openInPlace(path: usize, length: i32): i32 {
  if (!preopenOf(path, length)) {
    openError = 0;
    return -1;
  }
  const status = path_open(preopenFd, lookupflags.SYMLINK_FOLLOW, pathWithin, pathWithinLength, oflags.CREAT | oflags.TRUNC, rights.FD_WRITE | rights.FD_DATASYNC, 0, 0, scratch + 8);
  if (status != errno.SUCCESS) {
    openError = status;
    return -1;
  }
  return <i32>load<u32>(scratch, 8);
}

/** The file of openInPlace, written: flushed to the disk where it is a regular file (a pipe or a device has nothing
 * to flush, and runtimes word that failure each their own way), and closed. 0, or the WASI error that stopped it. */
export function closeInPlace(fd: i32): i32 {
  let status = errno.SUCCESS;
  if (fd_fdstat_get(fd, changetype<fdstat>(scratch)) == errno.SUCCESS && load<u8>(scratch) == filetype.REGULAR_FILE) status = fd_datasync(fd);
  const closed = fd_close(fd);
  return status == errno.SUCCESS ? closed : status;
}

/**
 * A byte stream read chunk by chunk into one growing buffer: [start, end) is what has been read and not yet
 * taken. The buffer grows only when a single line or record does not fit it.
 */
@unmanaged
export class Input {
  fd: i32;
  buffer: usize;
  capacity: i32;
  start: i32;
  end: i32;
  atEnd: bool;
  /** the WASI error of a failed read, or 0 */
  error: i32;
}

const INITIAL_BYTES: i32 = 1 << 16;
const READ_BYTES: i32 = 1 << 20;

export function openInput(input: Input, fd: i32): void {
  input.fd = fd;
  input.capacity = INITIAL_BYTES;
  input.buffer = heap.alloc(<usize>INITIAL_BYTES);
  input.start = 0;
  input.end = 0;
  input.atEnd = false;
  input.error = 0;
}

/**
 * Reads more bytes after `end`, first moving the untaken bytes to the front and growing the buffer when it is
 * full. Returns false at the end of the input or on a read error (input.error).
 */
export function readMore(input: Input): bool {
  if (input.atEnd) return false;
  if (input.start > 0) {
    memory.copy(input.buffer, input.buffer + <usize>input.start, <usize>(input.end - input.start));
    input.end -= input.start;
    input.start = 0;
  }
  if (input.end == input.capacity) {
    const grown = heap.alloc(<usize>input.capacity << 1);
    memory.copy(grown, input.buffer, <usize>input.end);
    heap.free(input.buffer);
    input.buffer = grown;
    input.capacity <<= 1;
  }
  store<usize>(scratch, input.buffer + <usize>input.end);
  // at most READ_BYTES at a time: runtimes copy a read through a host buffer of the asked size, and node:wasi
  // crashed, wasmtime said "out of memory", when asked for 128 MiB at once
  store<usize>(scratch, <usize>min(input.capacity - input.end, READ_BYTES), sizeof<usize>());
  while (true) {
    const status = fd_read(input.fd, scratch, 1, scratch + 8);
    if (status == errno.INTR || status == errno.AGAIN) continue;
    if (status != errno.SUCCESS) {
      input.error = status;
      input.atEnd = true;
      return false;
    }
    break;
  }
  const n = <i32>load<u32>(scratch, 8);
  if (n == 0) {
    input.atEnd = true;
    return false;
  }
  input.end += n;
  return true;
}

/** Makes at least `bytes` untaken bytes available; false when the input ends first. */
export function ensure(input: Input, bytes: i32): bool {
  while (input.end - input.start < bytes) if (!readMore(input)) return false;
  return true;
}
