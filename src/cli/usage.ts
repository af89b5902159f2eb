/** The help texts: what `idx --help` and `idx CMD --help` print. */

export const MAIN_HELP = `idx: a persistent ID -> ID index (32- or 64-bit IDs) in one memory-mapped file

Usage:
  idx build IN -o OUT        build an index from pairs (text, or --binary; IN may be - for stdin)
  idx get FILE KEY...        print the value of each KEY
  idx get FILE               read keys from stdin, one per line; print one line per key
  idx verify FILE            check every checksum and table invariant
  idx info FILE [--json]     show version, widths, entries, capacity, load and size
  idx set FILE KEY VALUE     insert or overwrite one pair, in place
  idx del FILE KEY...        remove keys (exit 1 if one was not there)
  idx put FILE PAIRS         merge pairs (same input as build; - for stdin)
  idx dump FILE              print every pair as KEY<TAB>VALUE (build reads it back)
  idx compact FILE           rehash now, into the smallest (build's) layout
  idx cp SRC DST             deploy an index: copy it over DST so that DST's readers follow

Options:
  -h, --help                 show help (also: idx CMD --help, idx help CMD)
  -v, --version              show the idx version and the format versions it reads

Writers (set, del, put, compact, build and cp over an existing index) take a lock: a second
one is refused, naming the first, unless given --wait MS. Readers never wait, and see each
change at once; a reader of a replaced file follows it to the new one.

Exit status: 0 success; 1 a key was missing (get, del) or the index is damaged (verify,
cp of a damaged source); 2 usage error, bad input, a file that cannot be read or is not a
valid index, or a locked index; 129, 130, 143 ended by SIGHUP, SIGINT (Ctrl-C), SIGTERM.
The format is specified byte by byte in spec/FORMAT.md.`;

const WRITER_NOTE = `One writer at a time: while another process writes FILE, the command fails at once
and names it, or waits up to --wait MS for it. Readers in other processes see the change
at once. The change is on disk (synced) when the command exits.

Options:
  --wait MS    wait up to MS milliseconds for another writer of FILE to finish
  -q, --quiet  print no summary line (put, compact)`;

const INPUT_NOTE = `Input, as text: one pair a line, KEY and VALUE separated by a tab, spaces or a
comma. Both are decimal integers from 0 to 18446744073709551615 (no hex, no sign). Blank
lines and lines starting with # are skipped; CRLF line ends are accepted. With --binary:
pairs of little-endian integers, KEY then VALUE, each 4 bytes (8 with --key-bits 64 or
--value-bits 64): 8 bytes a pair by default, as \`idx dump --binary\` writes a file of
32-bit keys and values.
With --binary, input whose first 4096 bytes (or all of it, when shorter) are printable
ASCII, tabs, CRs and LFs, with at least one LF, is refused as text: drop --binary to read
it. (Binary pairs of IDs below 16777216 hold NUL bytes, and text never does.)
When a key appears more than once, its last value wins. A line longer than 1 MiB is
refused, and so is input that is the output itself (by path or as stdin), and stdin that
is closed or /dev/null (to build an empty index, give an empty file).`;

export const COMMAND_HELP: Record<string, string> = {
  set: `Usage: idx set FILE KEY VALUE [--wait MS]

Sets KEY to VALUE in the index FILE, in place (insert or overwrite). KEY and VALUE are
decimal integers from 0 to 18446744073709551615. Creates FILE as an empty index first if
it does not exist. Grows the table (a new file renamed over the old) when it is nearly
full, and widens it the same way when KEY or VALUE is above 4294967295 and the file's keys
or values are 32-bit (idx info shows the widths).

${WRITER_NOTE}`,

  del: `Usage: idx del FILE KEY... [--wait MS]

Removes each KEY from FILE, in place. Exit status 1 if some KEY was not there (each one is
named on stderr).

${WRITER_NOTE}`,

  put: `Usage: idx put FILE PAIRS [--binary [--key-bits 64] [--value-bits 64]] [--wait MS] [--quiet]

Merges the pairs of PAIRS (a file, or - for stdin) into FILE: later pairs win, as in
build. The whole input is read first; a bad line changes nothing. A small batch is
applied in place; a large one (over 4,096 pairs and over a quarter of the entries) is
merged into a new file renamed over the old one; a pair wider than the file's widths
widens it (a new file too). Creates FILE if it does not exist.

${INPUT_NOTE}

${WRITER_NOTE}`,

  dump: `Usage: idx dump FILE [--binary]

Prints every entry as KEY<TAB>VALUE, one per line, in hash order. "idx build" of the
output gives the same map (and, after compact, the same bytes). With --binary, prints
the pairs as little-endian integers at the file's widths, KEY then VALUE, each 4 or 8
bytes (idx info shows the widths; "idx build --binary" with the same --key-bits and
--value-bits reads them).`,

  compact: `Usage: idx compact FILE [--wait MS] [--quiet]

Rehashes FILE now into the layout and size a fresh build gives: the file becomes
byte-identical to "idx build" of its pairs. Readers follow to the new file on their own.

${WRITER_NOTE}`,

  build: `Usage: idx build IN -o OUT [--binary] [--key-bits 64] [--value-bits 64] [--force] [--wait MS] [--quiet]

Builds the index OUT from the pairs in IN (a file, or - for stdin), in bounded memory
whatever the number of pairs (large inputs are sorted through temp files beside OUT).
Keys and values are each 32 or 64 bits wide in the file: the narrowest that holds every
number of the input (a key above 4294967295 makes the keys 64-bit), unless --key-bits 64
or --value-bits 64 asks for 64 (for --binary input, the flags give the input's widths).

${INPUT_NOTE}

OUT is written beside its final name and renamed into place only when complete and
synced: readers of an existing OUT see the old index or the new one, never a mix, and
follow to the new one. A bad line stops the build with its line number; OUT is then left
as it was, and no temp file remains.

Options:
  -o, --output OUT   the index file to write (required)
  --binary           IN holds binary pairs, not text
  --key-bits 32|64   keys 64 bits wide in OUT (and in binary IN); default 32 (or wider if needed)
  --value-bits 32|64 values 64 bits wide, as --key-bits
  -f, --force        replace OUT even if it is not an idx index (never IN itself)
  --wait MS          wait up to MS milliseconds for a writer of OUT to finish
  -q, --quiet        print no summary (progress is shown only when stderr is a terminal)`,

  get: `Usage: idx get FILE KEY...
       idx get FILE < keys.txt

Prints the value stored for each KEY, one per line.
With one KEY, a missing key prints nothing. With several KEYs, or with keys read
from stdin (one per line), a missing key prints an empty line, so output line i
always answers input line i; blank and # lines of the input get an empty line too.

Exit status: 0 every key was found; 1 some key was missing; 2 a key is not a
decimal integer from 0 to 18446744073709551615, or FILE cannot be read or is not a
valid index.`,

  verify: `Usage: idx verify FILE

Reads all of FILE and checks the header, every block checksum and every table
invariant of spec/FORMAT.md. Any single flipped bit is caught (but inside the few
blocks an interrupted writer was changing, which the next writer repairs).
Opening an index (and idx get) checks only the header; run verify after copying
an index or when you suspect damage.

Exit status: 0 intact; 1 damaged (each problem is printed, with what to do);
2 FILE cannot be read, or is not an idx index.`,

  info: `Usage: idx info FILE [--json]

Prints the format version, key and value widths (32 or 64 bits: keyBits and valueBits
in --json), entry count, capacity (home slots), slot count, load
(entries / capacity), in-place writes, reach (the longest probe), file size, bytes per
entry, and how the file is read (mapped, or copied into memory without the addon).
Reads only the header.

Options:
  --json   print one JSON object instead of text`,

  cp: `Usage: idx cp SRC DST [--force] [--wait MS] [--no-verify]

Deploys the index SRC at DST the way readers of DST can follow: verifies SRC (all of
it), copies it to a temp file beside DST, syncs it, takes DST's writer lock, marks the
old DST retired and renames the copy over it. Readers of DST answer from the old index
or the new one, never from a half-copied file. (cp or rsync over a live index rewrite
it in place: readers survive, but answer from a file that is neither, or fail, until
the copy is done.)

Options:
  -f, --force     replace DST even if it is not an idx index
  --wait MS       wait up to MS milliseconds for a writer of DST to finish
  --no-verify     skip the full check of SRC (open still checks its header)

Exit status: 0 deployed; 1 SRC is damaged (nothing was changed); 2 a usage error, a
file that cannot be read, a DST that is not an index (without --force), or DST locked.`,
};
