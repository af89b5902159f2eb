/**
 * The one error hierarchy of idx. Every error a caller can see is an IdxError with a stable
 * `code` that scripts may test; the message names the thing (file, line, key) and says what to do.
 */

export type IdxErrorCode =
  /** The file could not be opened, read, written, synced or renamed (see `cause`). */
  | "ERR_IDX_IO"
  /** The file does not start with the idx magic: empty, text, image, or another format. */
  | "ERR_IDX_NOT_AN_INDEX"
  /** The file is shorter or longer than its header says: truncated or appended to. */
  | "ERR_IDX_TRUNCATED"
  /** The file was written by a newer, incompatible major version of the format. */
  | "ERR_IDX_UNSUPPORTED_VERSION"
  /** A checksum does not match: the bytes changed after they were written. */
  | "ERR_IDX_CHECKSUM"
  /** The header or the table breaks a rule of spec/FORMAT.md. */
  | "ERR_IDX_CORRUPT"
  /** The index would exceed the largest file this format version or the mmap binding supports. */
  | "ERR_IDX_TOO_LARGE"
  /** A line of text input is not a valid `key value` pair. */
  | "ERR_IDX_PARSE"
  /** An argument passed to the API is out of range or of the wrong kind. */
  | "ERR_IDX_INVALID_ARGUMENT"
  /** The index was used after close(). */
  | "ERR_IDX_CLOSED"
  /** A build was interrupted (signal or abort) before it finished; the target is unchanged. */
  | "ERR_IDX_INTERRUPTED"
  /** Another process is writing the index (it holds the writer lock). */
  | "ERR_IDX_LOCKED"
  /** The operation needs idx's native addon (file locking), which is not available here. */
  | "ERR_IDX_NO_ADDON";

export interface IdxErrorDetails {
  /** The file the error is about, as given by the caller. */
  path?: string;
  /** 1-based line number in text input. */
  line?: number;
  /** Byte offset in the file the error is about. */
  offset?: number;
  /** What the user can do about it; appended to the message. */
  hint?: string;
  /** The underlying error (an errno exception from fs, for example). */
  cause?: unknown;
}

export class IdxError extends Error {
  readonly code: IdxErrorCode;
  // declare: no own property at all when a detail does not apply (not one set to undefined).
  declare readonly path?: string;
  declare readonly line?: number;
  declare readonly offset?: number;

  constructor(code: IdxErrorCode, what: string, details: IdxErrorDetails = {}) {
    super(composeMessage(what, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "IdxError";
    this.code = code;
    const self = this as { path?: string; line?: number; offset?: number };
    if (details.path !== undefined) self.path = details.path;
    if (details.line !== undefined) self.line = details.line;
    if (details.offset !== undefined) self.offset = details.offset;
  }
}

function composeMessage(what: string, d: IdxErrorDetails): string {
  let where = d.path ?? "";
  if (d.line !== undefined) where += `${where ? ":" : "line "}${d.line}`;
  const head = where ? `${where}: ${what}` : what;
  return d.hint ? `${head}\n${d.hint}` : head;
}

export function isIdxError(e: unknown): e is IdxError {
  return e instanceof IdxError;
}

/**
 * Wraps an fs exception so the caller sees which file and which operation failed.
 * @internal
 */
export function ioError(action: string, path: string, cause: unknown, hint?: string): IdxError {
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  const reason = errno ? describeErrno(errno) : String((cause as Error | undefined)?.message ?? cause);
  return new IdxError("ERR_IDX_IO", `cannot ${action}: ${reason}`, { path, cause, hint });
}

function describeErrno(code: string): string {
  switch (code) {
    case "ENOENT": return "no such file or directory (ENOENT)";
    case "EACCES": return "permission denied (EACCES)";
    case "EPERM": return "operation not permitted (EPERM)";
    case "EISDIR": return "is a directory (EISDIR)";
    case "ENOTDIR": return "a parent is not a directory (ENOTDIR)";
    case "ENOSPC": return "no space left on device (ENOSPC)";
    case "EROFS": return "read-only file system (EROFS)";
    case "EXDEV": return "source and target are on different file systems (EXDEV)";
    case "ENOMEM": return "out of memory or address space for another mapping (ENOMEM)";
    case "EMFILE": return "too many open files in this process (EMFILE)";
    case "ENFILE": return "too many open files on the system (ENFILE)";
    case "EFBIG": return "file too large for this file system (EFBIG)";
    case "EDQUOT": return "disk quota exceeded (EDQUOT)";
    case "EBUSY": return "device or resource busy (EBUSY)";
    case "ETXTBSY": return "text file busy (ETXTBSY)";
    default: return code;
  }
}
