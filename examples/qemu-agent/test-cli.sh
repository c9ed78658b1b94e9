#!/bin/sh
# qemu-agent's command line and policy files, without any guest:
#   test-cli.sh QEMU_AGENT
# Round trip of --print-config, profile and override order, units, the
# errors a bad file or argument gets (the host swap options among them), and
# what it reads and writes as root: the state directory and the trace file.
set -u
agent=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
	echo "FAIL: $*"
	failed=1
}

# expect_line FILE LINE: FILE has exactly LINE.
expect_line() {
	grep -qx -- "$2" "$1" || fail "expected '$2' in $(basename "$1"): $(tr '\n' ';' < "$1")"
}

# expect_error CONFIG_TEXT MESSAGE: loading it fails (status 2) saying MESSAGE.
expect_error() {
	printf '%b' "$1" > "$tmp/bad.conf"
	"$agent" --print-config --config "$tmp/bad.conf" > "$tmp/out" 2> "$tmp/err"
	status=$?
	[ "$status" = 2 ] || fail "'$1' gave status $status, not 2"
	grep -qF -- "$2" "$tmp/err" || fail "'$1' did not say '$2': $(cat "$tmp/err")"
}

"$agent" --print-config > "$tmp/defaults" || fail "--print-config without a file"
expect_line "$tmp/defaults" "threshold_high = 0.06"
expect_line "$tmp/defaults" "no_guest_cap = no"
expect_line "$tmp/defaults" "balloon_window_ns = 10000000000ns"
expect_line "$tmp/defaults" "demand_memory_ns = 7200000000000ns"
"$agent" --print-config --config "$tmp/defaults" > "$tmp/again" || fail "reading the printout"
cmp -s "$tmp/defaults" "$tmp/again" || fail "--print-config does not read back to itself"

# The profile applies first wherever it is; later keys win over earlier ones.
printf 'idle_tax = 0.5\nprofile = paper # literal\n\nidle_tax = 0.25\nguest_margin_bytes = 32M\n' \
	> "$tmp/paper.conf"
printf 'balloon_window_ns = 1.5s\nstats_max_age_ns = 250ms\nno_early_balloon = no\n' \
	>> "$tmp/paper.conf"
"$agent" --print-config --config "$tmp/paper.conf" > "$tmp/paper" || fail "paper.conf"
expect_line "$tmp/paper" "no_guest_cap = yes"
expect_line "$tmp/paper" "hard_swap_only = yes"
expect_line "$tmp/paper" "no_early_balloon = no"
expect_line "$tmp/paper" "idle_tax = 0.25"
expect_line "$tmp/paper" "guest_margin_bytes = 33554432"
expect_line "$tmp/paper" "balloon_window_ns = 1500000000ns"
expect_line "$tmp/paper" "stats_max_age_ns = 250000000ns"
printf 'demand_memory_ns = 5m\n' > "$tmp/demand.conf"
"$agent" --print-config --config "$tmp/demand.conf" > "$tmp/demand" || fail "demand.conf"
expect_line "$tmp/demand" "demand_memory_ns = 300000000000ns"

expect_error 'bogus = 1\n' "bad.conf:1: bogus: unknown key"
expect_error '# fine\nidle_tax\n' "bad.conf:2: expected key = value"
expect_error 'no_guest_cap = maybe\n' "no_guest_cap: expected yes or no"
expect_error 'guest_margin_bytes = 12Q\n' "guest_margin_bytes: expected a size"
expect_error 'balloon_window_ns = -1s\n' "balloon_window_ns: expected a duration"
expect_error 'profile = vmware\n' "profile must be esx, esxi5 or paper"
expect_error 'threshold_soft = 0.07\n' "threshold_soft"
expect_error 'idle_tax = 1.0\n' "idle_tax"
# A line too long to be read whole is refused: read in pieces, the tail of a
# comment became a setting of its own.
expect_error "#$(printf '%0510d' 0)idle_tax = 0.9\n" "bad.conf:1: line longer than 510 bytes"

"$agent" --budget 12Q --vm qmp=/x > /dev/null 2> "$tmp/err"
[ $? = 2 ] && grep -q "bad value for --budget" "$tmp/err" || fail "--budget 12Q"
# Ticks and warm-up longer than a day are refused: the tick times wrapped,
# and ticks ran back to back.
for bad in "--swap-method pick" "--cgroup elsewhere" "--state-dir relative/dir" \
	"--tick 18446744073s" "--tick 2d" "--warmup 18446744073s"; do
	# shellcheck disable=SC2086
	"$agent" $bad --budget 1G --vm qmp=/x > /dev/null 2> "$tmp/err"
	[ $? = 2 ] && grep -q "bad value for ${bad%% *}: " "$tmp/err" || fail "$bad: $(cat "$tmp/err")"
done
"$agent" --help | grep -q -- "--swap-method M" || fail "--help does not list --swap-method"
"$agent" --budget 1G --vm name=a,qmp=/x --vm name=b,qmp=/y,id=1 > /dev/null 2> "$tmp/err"
[ $? = 2 ] && grep -q "share id 1" "$tmp/err" || fail "duplicate ids: $(cat "$tmp/err")"
"$agent" --budget 1G --vm name=a,qmp="$tmp/none.sock" > /dev/null 2> "$tmp/err"
[ $? = 1 ] && grep -q "none.sock" "$tmp/err" || fail "missing QMP socket: $(cat "$tmp/err")"

# The state directory: read only when it is ours alone. A journal planted
# in one that others can write would have root write its numbers anywhere.
mkdir -p "$tmp/open" "$tmp/cg"
chmod 0777 "$tmp/open"
echo 4096 > "$tmp/cg/memory.limit_in_bytes"
echo 0 > "$tmp/cg/memory.oom_control"
printf 'dir %s\nlimit 999999\nlowered 4096\noom_kill_disable 0\n' "$tmp/cg" \
	> "$tmp/open/memcg-restore-planted"
"$agent" --budget 1G --state-dir "$tmp/open" --vm name=a,qmp="$tmp/none.sock" \
	> "$tmp/out" 2> "$tmp/err"
grep -q "not a directory of ours" "$tmp/err" || fail "open state dir: $(cat "$tmp/err")"
[ "$(cat "$tmp/cg/memory.limit_in_bytes")" = 4096 ] || fail "a planted journal was replayed"
if [ "$(id -u)" = 0 ] && id nobody > /dev/null 2>&1; then
	# ours, but the journal in it is another user's
	mkdir -m 0700 "$tmp/st"
	cp "$tmp/open/memcg-restore-planted" "$tmp/st/"
	chown nobody "$tmp/st/memcg-restore-planted"
	"$agent" --budget 1G --state-dir "$tmp/st" --vm name=a,qmp="$tmp/none.sock" \
		> "$tmp/out" 2> "$tmp/err"
	grep -q "not written by us" "$tmp/err" || fail "foreign journal: $(cat "$tmp/err")"
	[ "$(cat "$tmp/cg/memory.limit_in_bytes")" = 4096 ] || fail "a foreign journal was replayed"
	rm -rf "$tmp/st"
fi

# A guest an earlier agent stopped is resumed by the next one, which then
# forgets the record; here its QEMU is gone, so there is nothing to resume.
mkdir -m 0700 "$tmp/st"
printf '%s' "$tmp/gone.sock" > "$tmp/st/paused-0123456789abcdef"
"$agent" --budget 1G --state-dir "$tmp/st" --vm name=a,qmp="$tmp/none.sock" \
	> "$tmp/out" 2> "$tmp/err"
grep -q "gone.sock: stopped by an earlier agent: its QEMU is gone" "$tmp/out" ||
	fail "left paused: $(cat "$tmp/out" "$tmp/err")"
[ ! -e "$tmp/st/paused-0123456789abcdef" ] || fail "the record of a resumed guest stayed"
# A record another agent holds (locked: its guest is stopped now) is left
# alone: two agents may share the directory.
printf '%s' "$tmp/gone.sock" > "$tmp/st/paused-0123456789abcdef"
flock -x "$tmp/st/paused-0123456789abcdef" "$agent" --budget 1G --state-dir "$tmp/st" \
	--vm name=a,qmp="$tmp/none.sock" > "$tmp/out" 2> "$tmp/err"
! grep -q "stopped by an earlier agent" "$tmp/out" && [ -e "$tmp/st/paused-0123456789abcdef" ] ||
	fail "a record another agent holds was taken: $(cat "$tmp/out")"
rm -f "$tmp/st/paused-0123456789abcdef"
# A FIFO in a record's place does not hang start-up; an empty record (its
# agent died before writing it, so before stopping anything) is removed;
# one that holds no path of ours is left alone, and its bytes stay out of
# the log.
mkfifo "$tmp/st/paused-00000000000000f1"
: > "$tmp/st/paused-00000000000000e0"
printf 'x\033]0;title\007\nt=1.00 vm0: resumed' > "$tmp/st/paused-00000000000000b0"
printf '/a\nt=1.00 vm0: resumed' > "$tmp/st/paused-00000000000000b1"
timeout 10 "$agent" --budget 1G --state-dir "$tmp/st" --vm name=a,qmp="$tmp/none.sock" \
	> "$tmp/out" 2> "$tmp/err"
[ $? != 124 ] || fail "a FIFO as a record hung start-up"
[ ! -e "$tmp/st/paused-00000000000000e0" ] || fail "an empty record stayed"
for r in b0 b1; do
	grep -q "paused-00000000000000$r: not a record of ours; left alone" "$tmp/err" ||
		fail "record $r: $(cat "$tmp/out" "$tmp/err")"
done
grep -q "vm0: resumed" "$tmp/out" "$tmp/err" && fail "a record's content reached the log"
rm -f "$tmp/st/paused-00000000000000"*

# The trace file it creates: never writable by others, whatever the umask.
# One that exists keeps its mode (a device, the operator's own file).
(umask 000 && "$agent" --budget 1G --trace "$tmp/trace" --state-dir "$tmp/st" \
	--vm name=a,qmp="$tmp/none.sock" > /dev/null 2>&1)
[ "$(stat -c %a "$tmp/trace")" = 644 ] || fail "trace mode $(stat -c %a "$tmp/trace")"
chmod 0600 "$tmp/trace"
"$agent" --budget 1G --trace "$tmp/trace" --state-dir "$tmp/st" \
	--vm name=a,qmp="$tmp/none.sock" > /dev/null 2>&1
[ "$(stat -c %a "$tmp/trace")" = 600 ] || fail "an existing trace file's mode changed"
# A link in its place is not followed (it could point at any file root may
# write), a FIFO is not waited on, and a file of another user is not
# truncated; a device is written.
echo keep > "$tmp/victim"
ln -s "$tmp/victim" "$tmp/link"
mkfifo "$tmp/fifo"
echo theirs > "$tmp/theirs"
chown 65534 "$tmp/theirs" 2>/dev/null
for t in link fifo theirs; do
	[ "$t" = theirs ] && [ "$(stat -c %u "$tmp/theirs")" = "$(id -u)" ] && continue
	timeout 10 "$agent" --budget 1G --trace "$tmp/$t" --state-dir "$tmp/st" \
		--vm name=a,qmp="$tmp/none.sock" > /dev/null 2> "$tmp/err"
	status=$?
	[ "$status" = 2 ] || fail "--trace $t: status $status, not 2: $(cat "$tmp/err")"
done
[ "$(cat "$tmp/victim")" = keep ] || fail "--trace through a link truncated its target"
[ "$(id -u)" != 0 ] || [ "$(cat "$tmp/theirs")" = theirs ] || fail "another user's file was truncated"
"$agent" --budget 1G --trace /dev/null --state-dir "$tmp/st" \
	--vm name=a,qmp="$tmp/none.sock" > /dev/null 2> "$tmp/err"
grep -q "/dev/null" "$tmp/err" && fail "--trace /dev/null refused: $(cat "$tmp/err")"

[ "$failed" = 0 ] && echo "qemu-agent command line: ok"
exit "$failed"
