/* SPDX-License-Identifier: MIT */
/*
 * reclaim-libvirt-agent's parts, against libvirt's own test driver
 * (test:///default, in this process): domain XML and metadata, memory stats,
 * the state file, discovery and lifecycle and metadata events, and the libvirt
 * calls each decision issues, read back from libvirt.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libvirt/virterror.h>

#include "lvagent.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* ---- log capture ---- */

static char log_buf[1 << 16];
static FILE *log_file;

static void
log_reset(void)
{
	if (log_file != NULL)
		fclose(log_file);
	memset(log_buf, 0, sizeof(log_buf));
	log_file = fmemopen(log_buf, sizeof(log_buf) - 1, "w");
	lv_log_setup(log_file, 1, 0);
}

static int
logged(const char *text)
{
	fflush(log_file);
	return strstr(log_buf, text) != NULL;
}

#define assert_logged(text)                                                               \
	do {                                                                              \
		if (!logged(text))                                                        \
			fail_msg("not logged: %s\n--- log:\n%s", (text), log_buf);        \
	} while (0)

/* ---- domain XML ---- */

static const char *const full_xml =
	"<domain type='kvm'><name>a</name>"
	"<memory unit='GiB'>1</memory><currentMemory unit='MiB'>1024</currentMemory>"
	"<memtune><hard_limit unit='MiB'>900</hard_limit>"
	"<min_guarantee unit='MiB'>256</min_guarantee></memtune>"
	"<cpu><numa><cell id='0' cpus='0' memory='512' unit='MiB'/>"
	"<cell id='1' cpus='1' memory='524288'/></numa></cpu>"
	"<devices><memballoon model='virtio'><stats period='5'/>"
	"<driver deflate_on_oom='on'/></memballoon></devices></domain>";

static const char *const inactive_xml =
	"<domain type='kvm'><name>a</name><memory unit='KiB'>1048576</memory>"
	"<currentMemory unit='KiB'>786432</currentMemory></domain>";

static void
test_domxml_defaults(void **state)
{
	struct lv_settings s;
	(void)state;
	log_reset();
	assert_int_equal(domxml_parse(&s, "a", full_xml, NULL), 0);
	assert_true(s.kvm);
	assert_string_equal(s.type, "kvm");
	assert_int_equal(s.configured, GIB);
	assert_true(s.has_balloon);
	assert_int_equal(s.stats_period, 5);
	assert_true(s.deflate_on_oom);
	assert_int_equal(s.n_ram, 2); /* one backend per NUMA cell */
	assert_int_equal(s.ram[0], 512 * MIB);
	assert_int_equal(s.ram[1], 512 * MIB);
	assert_int_equal(s.shares, 10 * 1024); /* 10 per MiB, ESX's normal */
	assert_int_equal(s.src_shares, LV_SRC_DEFAULT);
	assert_int_equal(s.reservation, 256 * MIB);
	assert_int_equal(s.src_reservation, LV_SRC_MEMTUNE);
	assert_int_equal(s.limit, 900 * MIB);
	assert_int_equal(s.src_limit, LV_SRC_MEMTUNE);
	assert_int_equal(s.balloon_cap, RECLAIM_UNLIMITED);
	assert_int_equal(s.guest_swap, 0);
	assert_true(s.manage);

	/* The persistent <currentMemory> is a limit when it is the smaller. */
	assert_int_equal(domxml_parse(&s, "a", full_xml, inactive_xml), 0);
	assert_int_equal(s.limit, 768 * MIB);
	assert_int_equal(s.src_limit, LV_SRC_CURRENT);
	assert_string_equal(log_buf, "");
}

static void
test_domxml_metadata(void **state)
{
	struct lv_settings s;
	(void)state;
	log_reset();
	const char *xml =
		"<domain type='qemu'><memory unit='GiB'>2</memory>"
		"<metadata><reclaim:vm xmlns:reclaim='" LV_METADATA_URI "' shares='high' "
		"reservation='128M' limit='none' balloon-cap='64M' guest-swap='1G'/></metadata>"
		"<memtune><hard_limit unit='GiB'>1</hard_limit></memtune>"
		"<devices><memballoon model='virtio'/></devices></domain>";
	assert_int_equal(domxml_parse(&s, "m", xml, NULL), 0);
	assert_false(s.kvm);
	assert_int_equal(s.shares, 20 * 2048);
	assert_int_equal(s.src_shares, LV_SRC_METADATA);
	assert_int_equal(s.reservation, 128 * MIB);
	assert_int_equal(s.limit, RECLAIM_UNLIMITED); /* metadata wins over memtune */
	assert_int_equal(s.src_limit, LV_SRC_METADATA);
	assert_int_equal(s.balloon_cap, 64 * MIB);
	assert_int_equal(s.guest_swap, GIB);
	assert_int_equal(s.n_ram, 1);
	assert_int_equal(s.ram[0], 2 * GIB);
	assert_string_equal(log_buf, "");

	/* Sizes from 2^63 up read as they are (they were 2^63). */
	xml = "<domain type='qemu'><memory unit='GiB'>2</memory>"
	      "<metadata><reclaim:vm xmlns:reclaim='" LV_METADATA_URI "' "
	      "limit='16777215T' guest-swap='16777215T'/></metadata></domain>";
	assert_int_equal(domxml_parse(&s, "m", xml, NULL), 0);
	assert_true(s.limit == UINT64_C(16777215) << 40);
	assert_true(s.guest_swap == UINT64_C(16777215) << 40);
	log_reset();

	/* Another namespace is someone else's metadata. */
	xml = "<domain type='qemu'><memory unit='GiB'>1</memory><metadata>"
	      "<other:vm xmlns:other='urn:example:other' shares='1'/></metadata></domain>";
	assert_int_equal(domxml_parse(&s, "m", xml, NULL), 0);
	assert_int_equal(s.shares, 10240);
	assert_false(s.has_balloon);
}

static void
test_domxml_bad_metadata(void **state)
{
	struct lv_settings s;
	(void)state;
	log_reset();
	const char *xml =
		"<domain type='kvm'><memory unit='GiB'>1</memory>"
		"<metadata><r:vm xmlns:r='" LV_METADATA_URI "' shares='lots' reservation='-5' "
		"limit='0' balloon-cap='12Q' guest-swap='1e999' manage='maybe' sharez='1'/>"
		"</metadata><devices><memballoon model='virtio'/></devices></domain>";
	assert_int_equal(domxml_parse(&s, "bad", xml, NULL), 0);
	assert_int_equal(s.shares, 10240);
	assert_int_equal(s.reservation, 0);
	assert_int_equal(s.limit, RECLAIM_UNLIMITED);
	assert_int_equal(s.balloon_cap, RECLAIM_UNLIMITED);
	assert_int_equal(s.guest_swap, 0);
	assert_true(s.manage);
	assert_logged("bad: metadata shares='lots': expected a number or low, normal, high; "
		      "using the default");
	assert_logged("bad: metadata reservation='-5'");
	assert_logged("bad: metadata limit='0'");
	assert_logged("bad: metadata balloon-cap='12Q'");
	assert_logged("bad: metadata guest-swap='1e999'");
	assert_logged("bad: metadata manage='maybe': expected yes or no; managing it");
	assert_logged("bad: metadata: unknown attribute 'sharez' ignored");

	/* A reservation above the limit would make the policy refuse every
	 * decision: clamped, and said so. */
	log_reset();
	xml = "<domain type='kvm'><memory unit='GiB'>1</memory><metadata>"
	      "<r:vm xmlns:r='" LV_METADATA_URI "' reservation='900M' limit='512M' manage='no'/>"
	      "</metadata></domain>";
	assert_int_equal(domxml_parse(&s, "clamp", xml, NULL), 0);
	assert_int_equal(s.reservation, 512 * MIB);
	assert_false(s.manage);
	assert_logged("clamp: reservation 900.00 MiB above the limit 512.00 MiB; using 512.00 MiB");
}

static void
test_domxml_unusable(void **state)
{
	struct lv_settings s;
	(void)state;
	static const char *const bad[] = {
		"",
		"<domain",
		"<domain type='kvm'><name>x</name></domain>",
		"<domain><memory unit='KiB'>0</memory></domain>",
		"<domain><memory unit='EiB'>1</memory></domain>",
		"<domain><memory>99999999999999999999999</memory></domain>",
		"<domain><memory unit='GiB'>18446744073</memory></domain>",
		"<domain><memory>-1</memory></domain>",
		"<domain><memory unit='b'> -1</memory></domain>",
		"<domain><memory unit='b'>+1</memory></domain>",
		/* above 128 TiB: two of them would overflow the policy's sums */
		"<domain><memory unit='TiB'>129</memory></domain>",
		"<domain><memory unit='b'>9223372036854775807</memory></domain>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		log_reset();
		s.configured = 42;
		assert_int_equal(domxml_parse(&s, "u", bad[i], NULL), -1);
		assert_int_equal(s.configured, 42); /* untouched */
		assert_true(logged("error: u: "));
	}
	/* Memory devices: DIMMs are backends of their own. */
	log_reset();
	const char *xml = "<domain><memory unit='GiB'>3</memory><devices>"
			  "<memory model='dimm'><target><size unit='GiB'>1</size></target></memory>"
			  "<memory model='nvdimm'><target><size unit='GiB'>1</size></target></memory>"
			  "<memballoon model='virtio'/></devices></domain>";
	assert_int_equal(domxml_parse(&s, "dimm", xml, NULL), 0);
	assert_int_equal(s.n_ram, 2);
	assert_int_equal(s.ram[0], GIB); /* initial: 3 - 1 - 1 */
	assert_int_equal(s.ram[1], GIB); /* the DIMM */
}

/* ---- memory stats ---- */

static void
test_memstats(void **state)
{
	(void)state;
	virDomainMemoryStatStruct st[] = {
		{VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, 786432},
		{VIR_DOMAIN_MEMORY_STAT_RSS, 400000},
		{VIR_DOMAIN_MEMORY_STAT_USABLE, 204800},
		{VIR_DOMAIN_MEMORY_STAT_UNUSED, 102400},
		{VIR_DOMAIN_MEMORY_STAT_AVAILABLE, 700000},
		{VIR_DOMAIN_MEMORY_STAT_SWAP_IN, 10},
		{VIR_DOMAIN_MEMORY_STAT_SWAP_OUT, 30},
		{VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE, 1700000000},
		{VIR_DOMAIN_MEMORY_STAT_DISK_CACHES, 5},
		{99, 7}, /* a tag this agent does not know */
	};
	struct lv_memstats m;
	memstats_map(&m, st, (int)(sizeof(st) / sizeof(st[0])));
	assert_true(m.has_actual);
	assert_int_equal(m.actual, 768 * MIB);
	assert_int_equal(m.rss, 400000ull << 10);
	assert_true(m.raw.has_available && m.raw.has_free && m.raw.has_total);
	assert_int_equal(m.raw.available, 200 * MIB);
	assert_int_equal(m.raw.free, 100 * MIB);
	assert_int_equal(m.raw.total, 700000ull << 10);
	assert_int_equal(m.raw.swap_in, 10 << 10);
	assert_int_equal(m.raw.swap_out, 30 << 10);
	assert_int_equal(m.raw.last_update_s, 1700000000);

	/* A lying guest: values that overflow when scaled saturate. */
	virDomainMemoryStatStruct lie[] = {
		{VIR_DOMAIN_MEMORY_STAT_USABLE, ~0ull},
		{VIR_DOMAIN_MEMORY_STAT_AVAILABLE, 1ull << 60},
	};
	memstats_map(&m, lie, 2);
	assert_false(m.has_actual);
	assert_int_equal(m.raw.available, UINT64_MAX);
	assert_int_equal(m.raw.total, UINT64_MAX);
	memstats_map(&m, NULL, 0);
	assert_false(m.raw.has_available);
}

/* The guest's view, aligned with the balloon (agent-common). */
static void
test_guest_view(void **state)
{
	(void)state;
	struct guest_view v;
	struct guest_view_out out;
	uint64_t wall = 1000 * NS_PER_S, mono = 50 * NS_PER_S;
	guest_view_init(&v, 256 * MIB, 0, 1000.0);
	guest_view_balloon(&v, 0, 1000.0);
	struct guest_stats_raw raw = {.last_update_s = 999, .has_available = 1,
				      .available = 300 * MIB, .has_total = 1, .total = GIB,
				      .swap_in = 0, .swap_out = 16 * MIB};
	/* Taken before the balloon settled: withheld. */
	assert_int_equal(guest_view_stats(&out, &v, &raw, 0, mono, wall), 0);
	raw.last_update_s = 1001;
	wall = 1002 * NS_PER_S;
	assert_int_equal(guest_view_stats(&out, &v, &raw, 0, mono, wall), 1);
	assert_int_equal(out.free_bytes, 300 * MIB);
	assert_int_equal(out.swap_free_bytes, 240 * MIB);
	assert_int_equal(out.stats_time_ns, mono - NS_PER_S); /* a second old */
	/* The balloon grew by 100 MiB since those stats: free moves with it. */
	guest_view_balloon(&v, 100 * MIB, 1002.0);
	assert_int_equal(guest_view_stats(&out, &v, &raw, 100 * MIB, mono, wall), 1);
	assert_int_equal(out.free_bytes, 200 * MIB);
	/* A report from the future counts as now; huge values do not wrap. */
	raw.last_update_s = UINT64_MAX;
	raw.available = UINT64_MAX;
	raw.total = UINT64_MAX;
	assert_int_equal(guest_view_stats(&out, &v, &raw, 100 * MIB, mono, wall), 1);
	assert_int_equal(out.stats_time_ns, mono);
	/* Never reported: nothing. */
	raw.last_update_s = 0;
	assert_int_equal(guest_view_stats(&out, &v, &raw, 0, mono, wall), 0);
}

static void
test_meminfo(void **state)
{
	(void)state;
	static char text[] = "MemTotal:       16384000 kB\nMemFree:          512000 kB\n"
				   "MemAvailable:    8192000 kB\nBuffers: 1 kB\n"
				   "SwapTotal:       2097152 kB\nSwapFree:        1048576 kB\n";
	struct meminfo mi;
	FILE *f = fmemopen(text, sizeof(text) - 1, "r");
	assert_int_equal(meminfo_parse(&mi, f), 0);
	fclose(f);
	assert_int_equal(mi.total, 16384000ull << 10);
	assert_int_equal(mi.free, 512000ull << 10);
	assert_true(mi.has_available);
	assert_int_equal(mi.available, 8192000ull << 10);
	assert_int_equal(mi.swap_free, GIB);
	static char old[] = "MemFree: 1 kB\n";
	f = fmemopen(old, sizeof(old) - 1, "r");
	assert_int_equal(meminfo_parse(&mi, f), -1); /* no MemTotal */
	fclose(f);
}

/* ---- the state file ---- */

static char tmpdir[64];

static int
make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lvagent-test.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
remove_tmpdir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
make_fifo(const char *path)
{
	return mkfifo(path, 0600);
}

/* A state file of @p lines UUIDs, mode @p mode. */
static int
make_list(const char *path, int lines, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	for (int i = 0; i < lines; i++)
		fprintf(f, "3e3fce45-4f53-4fa7-bb32-%012x\n", i);
	fclose(f);
	return chmod(path, mode);
}

static int
make_writable(const char *path)
{
	return make_list(path, 1, 0666);
}

static int
make_large(const char *path)
{
	return make_list(path, 30000, 0600);
}

static void
test_blocked_file(void **state)
{
	(void)state;
	struct lv_blocked b;
	char dir[128], file[160];
	struct stat st;
	log_reset();
	snprintf(dir, sizeof(dir), "%s/state", tmpdir);
	snprintf(file, sizeof(file), "%s/blocked", dir);
	assert_int_equal(blocked_open(&b, dir), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	const struct lv_run run7 = {7, 4242}, run9 = {9, 0}, none = {0, 0};
	assert_int_equal(blocked_add(&b, "3e3fce45-4f53-4fa7-bb32-11f34168b82b", run7), 0);
	assert_int_equal(blocked_add(&b, "91d1b3c5-2a43-4c0e-8a4e-2f7a4e1d2c11", none), 0);
	assert_int_equal(blocked_add(&b, "3e3fce45-4f53-4fa7-bb32-11f34168b82b", run7), 0);
	assert_int_equal(b.n, 2);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	blocked_close(&b);

	/* A second agent finds them, with the runs they were suspended in;
	 * a line of the UUID alone (an earlier agent's) is a run not known;
	 * lines that are not a UUID and a run are skipped. */
	FILE *f = fopen(file, "a");
	fputs("not-a-uuid\n\n../../etc/passwd\n"
	      "0b1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\n"
	      "1b1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d 5\n"
	      "2b1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d -5 3\n"
	      "3b1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d 5 3 1\n"
	      "4b1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d 4294967296 3\n", f);
	fclose(f);
	assert_int_equal(blocked_open(&b, dir), 0);
	assert_int_equal(b.n, 3);
	assert_true(blocked_has(&b, "91d1b3c5-2a43-4c0e-8a4e-2f7a4e1d2c11"));
	assert_logged("ignoring a line that is not a UUID");
	const struct lv_run *r = blocked_run(&b, "3e3fce45-4f53-4fa7-bb32-11f34168b82b");
	assert_non_null(r);
	assert_int_equal(r->id, 7);
	assert_int_equal(r->pid, 4242);
	r = blocked_run(&b, "0b1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
	assert_non_null(r);
	assert_int_equal(r->id, 0);
	assert_int_equal(r->pid, 0);
	assert_null(blocked_run(&b, "1b1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	assert_int_equal(blocked_remove(&b, "0b1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"), 0);
	/* Suspended again by this agent: listed as its run now. Seen saved:
	 * the run it comes back in is not known. */
	assert_int_equal(blocked_add(&b, "91d1b3c5-2a43-4c0e-8a4e-2f7a4e1d2c11", run9), 0);
	blocked_saved(&b, "3e3fce45-4f53-4fa7-bb32-11f34168b82b");
	blocked_close(&b);
	assert_int_equal(blocked_open(&b, dir), 0);
	assert_int_equal(b.n, 2);
	assert_int_equal(blocked_run(&b, "91d1b3c5-2a43-4c0e-8a4e-2f7a4e1d2c11")->id, 9);
	assert_int_equal(blocked_run(&b, "3e3fce45-4f53-4fa7-bb32-11f34168b82b")->id, 0);
	assert_int_equal(blocked_run(&b, "3e3fce45-4f53-4fa7-bb32-11f34168b82b")->pid, 0);
	assert_int_equal(blocked_remove(&b, "3e3fce45-4f53-4fa7-bb32-11f34168b82b"), 0);
	blocked_close(&b);
	assert_int_equal(blocked_open(&b, dir), 0);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.entries[0].uuid, "91d1b3c5-2a43-4c0e-8a4e-2f7a4e1d2c11");
	blocked_close(&b);

	/* Runs: another id or another QEMU process is another run; what is
	 * not known (0) says nothing. */
	const struct lv_run a1 = {3, 100}, a2 = {3, 100}, other_id = {4, 100},
			    other_pid = {3, 101}, id_only = {3, 0}, unknown = {0, 0};
	assert_false(lv_run_differs(&a1, &a2));
	assert_true(lv_run_differs(&a1, &other_id));
	assert_true(lv_run_differs(&a1, &other_pid));
	assert_false(lv_run_differs(&a1, &id_only));
	assert_false(lv_run_differs(&unknown, &other_id));
	assert_false(lv_run_differs(&a1, &unknown));

	/* The directory is used as it was opened and checked: moved away and
	 * replaced by a link to another one (by whoever can write its
	 * parent), the list still goes where it was. */
	char moved[160], elsewhere[160], lost[192];
	snprintf(moved, sizeof(moved), "%s/state.old", tmpdir);
	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", tmpdir);
	snprintf(lost, sizeof(lost), "%s/blocked", elsewhere);
	assert_int_equal(blocked_open(&b, dir), 0);
	assert_int_equal(mkdir(elsewhere, 0700), 0);
	assert_int_equal(rename(dir, moved), 0);
	assert_int_equal(symlink(elsewhere, dir), 0);
	assert_int_equal(blocked_add(&b, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", none), 0);
	blocked_close(&b);
	assert_int_not_equal(stat(lost, &st), 0);
	assert_int_equal(unlink(dir), 0);
	assert_int_equal(rename(moved, dir), 0);
	assert_int_equal(rmdir(elsewhere), 0);
	assert_int_equal(blocked_open(&b, dir), 0);
	assert_true(blocked_has(&b, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	assert_int_equal(blocked_remove(&b, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"), 0);

	/* One agent to a state directory: a second is refused while the
	 * first runs, and gets it once the first is gone. */
	struct lv_blocked second;
	assert_int_equal(blocked_lock(&b), 0);
	assert_int_equal(blocked_open(&second, dir), 0);
	log_reset();
	assert_int_equal(blocked_lock(&second), -EBUSY);
	assert_logged("another agent uses this state directory");
	blocked_close(&b);
	assert_int_equal(blocked_lock(&second), 0);
	blocked_close(&second);

	/* A "blocked" that is not a file the agent wrote is not read: a FIFO
	 * (opening it would wait for a writer for ever), one others may
	 * write, one too large. */
	struct {
		const char *what;
		int (*make)(const char *path);
	} odd[] = {{"fifo", make_fifo}, {"writable", make_writable}, {"large", make_large}};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		log_reset();
		assert_int_equal(unlink(file), 0);
		assert_int_equal(odd[i].make(file), 0);
		assert_int_not_equal(blocked_open(&b, dir), 0);
		assert_logged("is not a file the agent wrote");
		blocked_close(&b);
	}
	assert_int_equal(unlink(file), 0);

	/* Others could plant entries in a directory they can write. */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_not_equal(blocked_open(&b, dir), 0);
	assert_logged("must be a directory of ours that only we can write");
	blocked_close(&b);
}

/* ---- against libvirt's test driver ---- */

static virConnectPtr test_conn; /* the "operator's" connection */

static void
quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static int
event_loop_setup(void **state)
{
	(void)state;
	virSetErrorFunc(NULL, quiet);
	if (virEventRegisterDefaultImpl() != 0)
		return -1;
	test_conn = virConnectOpen("test:///default");
	return make_tmpdir(state) || test_conn == NULL ? -1 : 0;
}

static int
event_loop_teardown(void **state)
{
	virConnectClose(test_conn);
	return remove_tmpdir(state);
}

static void
pump_done(int timer, void *opaque)
{
	(void)timer;
	*(int *)opaque = 1;
}

/* Runs libvirt's event loop for @p ms. */
static void
pump(int ms)
{
	int done = 0;
	int t = virEventAddTimeout(ms, pump_done, &done, NULL);
	while (!done)
		virEventRunDefaultImpl();
	virEventRemoveTimeout(t);
}

static struct lv_agent *
agent_new(int dry_run)
{
	struct lv_agent *a = calloc(1, sizeof(*a));
	assert_non_null(a);
	a->uri = "test:///default";
	a->tick_ns = NS_PER_S;
	a->stats_interval_s = 1;
	a->seed = 1;
	a->max_domains = 16;
	a->swap_method = HOST_SWAP_AUTO;
	a->page_idle_fd = -1;
	a->lifecycle_cb = a->metadata_cb = -1;
	a->logged_state = -1;
	a->dry_run = dry_run;
	assert_int_equal(RECLAIM_CONFIG_INIT_DEFAULT(&a->cfg), RECLAIM_OK);
	assert_int_equal(reclaim_policy_new(&a->policy, &a->cfg, a->max_domains), RECLAIM_OK);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/agent", tmpdir);
	a->state_dir = strdup(dir);
	assert_int_equal(blocked_open(&a->blocked, dir), 0);
	if (dry_run)
		a->blocked.path[0] = '\0';
	a->start_ns = lv_now_ns();
	return a;
}

static void
agent_free(struct lv_agent *a)
{
	lv_disconnect(a);
	lv_domains_free(a);
	if (a->reconnect_timer > 0)
		virEventRemoveTimeout(a->reconnect_timer);
	blocked_close(&a->blocked);
	reclaim_policy_destroy(a->policy);
	free(a->vms);
	free(a->dec);
	free(a->res);
	free(a->metrics);
	free(a->state_dir);
	free(a);
}

static struct lv_domain *
find(struct lv_agent *a, const char *name)
{
	for (size_t i = 0; i < a->n_doms; i++)
		if (!strcmp(a->doms[i]->name, name))
			return a->doms[i];
	return NULL;
}

static const char *const balloon_dom =
	"<domain type='test'><name>%s</name><memory unit='MiB'>1024</memory>"
	"<vcpu>1</vcpu><os><type>hvm</type></os>%s"
	"<devices><memballoon model='%s'/></devices></domain>";

/* Leaves the test driver's own domain alone (or not), so that a test's
 * domain is the only one the policy weighs. */
static void
manage_default_domain(int manage)
{
	virDomainPtr t = virDomainLookupByName(test_conn, "test");
	assert_non_null(t);
	assert_int_equal(virDomainSetMetadata(t, VIR_DOMAIN_METADATA_ELEMENT,
					      manage ? NULL : "<vm manage='no'/>", LV_METADATA_KEY,
					      LV_METADATA_URI, VIR_DOMAIN_AFFECT_LIVE),
			 0);
	virDomainFree(t);
}

static virDomainPtr
create(const char *name, const char *metadata, const char *balloon)
{
	char xml[1024];
	snprintf(xml, sizeof(xml), balloon_dom, name, metadata, balloon);
	virDomainPtr d = virDomainCreateXML(test_conn, xml, 0);
	assert_non_null(d);
	return d;
}

static void
test_discovery_and_events(void **state)
{
	(void)state;
	log_reset();
	struct lv_agent *a = agent_new(0);
	assert_int_equal(lv_connect(a, 0), 0);
	/* test:///default starts with one running domain, "test", which has a
	 * balloon. */
	struct lv_domain *t = find(a, "test");
	assert_non_null(t);
	assert_true(t->managed);
	assert_int_equal(t->id, lv_uuid_id("6695eb01-f6a4-8304-79aa-97f2502e193f"));
	assert_logged("test: managed (uuid 6695eb01-f6a4-8304-79aa-97f2502e193f)");
	/* No QEMU process: the agent says what it cannot do. */
	assert_logged("test: guest RAM not found (no QEMU process with this UUID");
	assert_int_equal(t->act.method, LV_ACTIVE_GUEST);

	/* Started: found through the lifecycle event, not a poll. */
	virDomainPtr nb = create("nb", "", "none");
	virDomainPtr d = create("fresh", "", "virtio");
	pump(200);
	struct lv_domain *f = find(a, "fresh");
	assert_non_null(f);
	assert_true(f->managed);
	assert_non_null(find(a, "nb"));
	assert_false(find(a, "nb")->managed);
	assert_logged("nb: not managed: no balloon device");

	/* Metadata set live: re-read through the metadata event. */
	assert_int_equal(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT,
					      "<vm shares='5000' limit='512M'/>", LV_METADATA_KEY,
					      LV_METADATA_URI, VIR_DOMAIN_AFFECT_LIVE),
			 0);
	pump(200);
	assert_int_equal(f->set.shares, 5000);
	assert_int_equal(f->set.limit, 512 * MIB);
	assert_logged("fresh: settings changed");
	/* Bad metadata set live: a log line and the default. */
	assert_int_equal(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT,
					      "<vm shares='-1'/>", LV_METADATA_KEY,
					      LV_METADATA_URI, VIR_DOMAIN_AFFECT_LIVE),
			 0);
	pump(200);
	assert_logged("fresh: metadata shares='-1'");
	assert_int_equal(f->set.shares, 10240);
	/* ... once: the resync reads the same XML again without a word. */
	log_reset();
	lv_resync(a);
	assert_false(logged("shares='-1'"));
	assert_int_equal(f->set.shares, 10240);
	/* manage='no' set live: left alone from then on. */
	assert_int_equal(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, "<vm manage='no'/>",
					      LV_METADATA_KEY, LV_METADATA_URI,
					      VIR_DOMAIN_AFFECT_LIVE),
			 0);
	pump(200);
	assert_false(f->managed);
	assert_logged("fresh: not managed: metadata says manage='no'");

	/* Destroyed: dropped. */
	assert_int_equal(virDomainDestroy(d), 0);
	assert_int_equal(virDomainDestroy(nb), 0);
	pump(200);
	assert_null(find(a, "fresh"));
	assert_null(find(a, "nb"));
	virDomainFree(d);
	virDomainFree(nb);

	/* A tick renders metrics for the managed domains only. */
	a->budget = 64 * GIB;
	lv_tick(a);
	assert_non_null(a->metrics);
	assert_non_null(strstr(a->metrics, "reclaim_vm_configured_bytes{domain=\"test\""));
	assert_null(strstr(a->metrics, "domain=\"nb\""));
	agent_free(a);
}

static unsigned long
guest_kib(virDomainPtr d)
{
	virDomainInfo info;
	assert_int_equal(virDomainGetInfo(d, &info), 0);
	return info.memory;
}

static int
dom_state(virDomainPtr d)
{
	int st = 0, reason = 0;
	assert_int_equal(virDomainGetState(d, &st, &reason, 0), 0);
	return st;
}

/*
 * Destroys the domain @p d and starts it again from its XML, paused, as
 * someone else would (the test driver cannot start paused: suspended at
 * once). With @p a, while that agent is away from libvirtd (disconnected),
 * so that it hears of none of it. Returns the new handle.
 */
static virDomainPtr
restart_paused(virDomainPtr d, struct lv_agent *a)
{
	char *desc = virDomainGetXMLDesc(d, 0);
	assert_non_null(desc);
	if (a != NULL)
		lv_disconnect(a);
	unsigned int id = virDomainGetID(d);
	assert_int_equal(virDomainDestroy(d), 0);
	virDomainFree(d);
	d = virDomainCreateXML(test_conn, desc, 0);
	free(desc);
	assert_non_null(d);
	assert_int_not_equal(virDomainGetID(d), id);
	assert_int_equal(virDomainSuspend(d), 0);
	return d;
}

static int
state_file_lists(const char *uuid)
{
	char path[160], line[128];
	snprintf(path, sizeof(path), "%s/agent/blocked", tmpdir);
	FILE *f = fopen(path, "r");
	int found = 0;
	while (f && fgets(line, sizeof(line), f))
		found |= !strncmp(line, uuid, strlen(uuid));
	if (f)
		fclose(f);
	return found;
}

/* One decision for @p d, as reclaim_decide() would write it. */
static struct reclaim_decision
decision(const struct lv_domain *d, uint32_t actions)
{
	struct reclaim_decision x;
	memset(&x, 0, sizeof(x));
	x.struct_size = sizeof(x);
	x.id = d->id;
	x.actions = actions;
	x.state = RECLAIM_STATE_LOW;
	x.block = (actions & RECLAIM_ACTION_BLOCK) != 0;
	return x;
}

/* The agent suspends @p x, as a decision that blocks it makes it do. */
static void
suspend_by_agent(struct lv_agent *a, struct lv_domain *x)
{
	struct reclaim_decision dec = decision(x, RECLAIM_ACTION_BLOCK);
	log_reset();
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_true(x->blocked);
}

/* The calls each decision issues, read back from libvirt. */
static void
test_decisions_to_libvirt(void **state)
{
	(void)state;
	log_reset();
	manage_default_domain(0);
	virDomainPtr d = create("act", "", "virtio");
	char uuid[VIR_UUID_STRING_BUFLEN];
	virDomainGetUUIDString(d, uuid);
	/* The guest has 768 MiB of its 1 GiB: a balloon of 256 MiB. */
	assert_int_equal(virDomainSetMemoryFlags(d, 768 * 1024, VIR_DOMAIN_AFFECT_LIVE), 0);
	struct lv_agent *a = agent_new(0);
	assert_int_equal(lv_connect(a, 0), 0);
	struct lv_domain *x = find(a, "act");
	assert_non_null(x);
	assert_logged("act: balloon stats period set to 1 s");

	/* A roomy host, through the policy: the balloon deflates with
	 * virDomainSetMemoryFlags. */
	a->budget = 64 * GIB;
	lv_tick(a);
	assert_true(x->have_last);
	assert_true(x->last.reasons & RECLAIM_REASON_DEFLATE);
	assert_int_equal(guest_kib(d), (x->set.configured - x->last.balloon_target_bytes) >> 10);
	assert_true(guest_kib(d) > 768 * 1024);
	assert_int_equal(x->balloon_sets_total, 1);
	assert_logged("act: high target");

	/* Each action alone. Balloon: the guest's size is configured - balloon. */
	struct reclaim_decision dec = decision(x, RECLAIM_ACTION_BALLOON);
	dec.balloon_target_bytes = 128 * MIB;
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_int_equal(guest_kib(d), 896 * 1024);

	/* Block: listed in the state file, then virDomainSuspend. */
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	assert_true(x->blocked);
	assert_true(state_file_lists(uuid));
	assert_logged("act: suspended");
	lv_tick(a);
	assert_non_null(strstr(a->metrics, "reclaim_vm_blocked{domain=\"act\""));

	/* Unblock: virDomainResume, then unlisted. */
	dec = decision(x, RECLAIM_ACTION_UNBLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_int_equal(dom_state(d), VIR_DOMAIN_RUNNING);
	assert_false(x->blocked);
	assert_false(state_file_lists(uuid));
	assert_logged("act: resumed");

	/* Saved while suspended, it comes back suspended: still listed, and
	 * resumed as soon as it starts again. */
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	char saved[128];
	snprintf(saved, sizeof(saved), "%s/act.save", tmpdir);
	assert_int_equal(virDomainSave(d, saved), 0);
	pump(200);
	assert_null(find(a, "act"));
	assert_true(state_file_lists(uuid));
	/* (the test driver restores running: suspended at once, before the
	 * agent hears of the start, it is as if restored suspended) */
	assert_int_equal(virDomainRestore(test_conn, saved), 0);
	virDomainFree(d);
	d = virDomainLookupByUUIDString(test_conn, uuid);
	assert_non_null(d);
	assert_int_equal(virDomainSuspend(d), 0);
	pump(200);
	x = find(a, "act");
	assert_non_null(x);
	assert_int_equal(dom_state(d), VIR_DOMAIN_RUNNING);
	assert_false(state_file_lists(uuid));
	assert_logged("act: restored suspended, and resumed");

	/* The same for a defined domain, found by the periodic resync
	 * instead of the events. */
	char xml[1024], puuid[VIR_UUID_STRING_BUFLEN];
	snprintf(xml, sizeof(xml), balloon_dom, "pers", "", "virtio");
	virDomainPtr p = virDomainDefineXML(test_conn, xml);
	assert_non_null(p);
	assert_int_equal(virDomainCreate(p), 0);
	virDomainGetUUIDString(p, puuid);
	pump(200);
	struct lv_domain *y = find(a, "pers");
	assert_non_null(y);
	dec = decision(y, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_int_equal(dom_state(p), VIR_DOMAIN_PAUSED);
	assert_int_equal(virDomainManagedSave(p, 0), 0);
	lv_resync(a);
	assert_null(find(a, "pers"));
	assert_true(state_file_lists(puuid));
	lv_resume_leftovers(a); /* saved: nothing to resume yet, still listed */
	assert_true(state_file_lists(puuid));
	assert_int_equal(virDomainCreate(p), 0); /* from the managed save */
	assert_int_equal(virDomainSuspend(p), 0);
	lv_resync(a);
	lv_resume_leftovers(a);
	assert_non_null(find(a, "pers"));
	assert_int_equal(dom_state(p), VIR_DOMAIN_RUNNING);
	assert_false(state_file_lists(puuid));
	pump(200); /* the events of all that, now stale: nothing changes */
	assert_int_equal(dom_state(p), VIR_DOMAIN_RUNNING);

	/* Saved while the agent is away from libvirtd (a daemon restart): it
	 * is still known as saved when the agent is back, so still listed,
	 * and resumed once restored. */
	y = find(a, "pers");
	assert_non_null(y);
	dec = decision(y, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_int_equal(dom_state(p), VIR_DOMAIN_PAUSED);
	lv_disconnect(a);
	assert_int_equal(virDomainManagedSave(p, 0), 0);
	assert_int_equal(lv_connect(a, 0), 0);
	assert_null(find(a, "pers"));
	assert_true(state_file_lists(puuid));
	assert_int_equal(virDomainCreate(p), 0);
	assert_int_equal(virDomainSuspend(p), 0);
	lv_resync(a);
	lv_resume_leftovers(a);
	assert_int_equal(dom_state(p), VIR_DOMAIN_RUNNING);
	assert_false(state_file_lists(puuid));
	pump(200);
	assert_int_equal(virDomainDestroy(p), 0);
	assert_int_equal(virDomainUndefine(p), 0);
	virDomainFree(p);
	pump(200);
	unlink(saved);

	/* Host swap: no QEMU process of this domain on this host, so no
	 * cgroup for lru and no guest RAM for random: the swap mechanism
	 * refuses, and the failure is reported to the policy. */
	dec = decision(x, RECLAIM_ACTION_SWAP);
	dec.swap_bytes = 16 * MIB;
	uint64_t errors = x->op_errors_total;
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_E_ADAPTER);
	assert_logged("act: host swap by random: no cgroup LRU: no QEMU process on this host");
	assert_logged("act: host swap (random): Operation not supported: random: the guest RAM "
		      "mappings are unknown");
	/* The metrics say which method and why, and what each took. */
	lv_tick(a);
	char want[400];
	snprintf(want, sizeof(want),
		 "reclaim_vm_swap_method{domain=\"act\",uuid=\"%s\",method=\"random\","
		 "why=\"no cgroup LRU: no QEMU process on this host\"} 1\n", x->uuid);
	assert_non_null(strstr(a->metrics, want));
	snprintf(want, sizeof(want),
		 "reclaim_vm_swapped_by_bytes_total{domain=\"act\",uuid=\"%s\",method=\"lru\"} 0\n",
		 x->uuid);
	assert_non_null(strstr(a->metrics, want));
	assert_non_null(strstr(a->metrics, "swap_method=\"auto\""));
	assert_int_equal(x->op_errors_total, errors + 1);

	/* Suspended, then the agent goes away without resuming (as if killed):
	 * the next agent resumes it. */
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	x->blocked = 0; /* forget it, as a killed agent would */
	agent_free(a);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	log_reset();
	a = agent_new(0);
	assert_int_equal(lv_connect(a, 0), 0);
	x = find(a, "act");
	assert_int_equal(dom_state(d), VIR_DOMAIN_RUNNING);
	assert_logged("act: resumed (suspended by an earlier run of the agent)");
	assert_false(state_file_lists(uuid));

	/* Suspended by this agent and the agent stops: resumed on the way out. */
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	lv_resume_all(a);
	assert_int_equal(dom_state(d), VIR_DOMAIN_RUNNING);
	assert_false(state_file_lists(uuid));

	/* Paused by someone else: blocking it is a no-op, and the agent never
	 * resumes it. */
	log_reset();
	assert_int_equal(virDomainSuspend(d), 0);
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_logged("act: to be blocked, and already paused by someone else");
	assert_false(state_file_lists(uuid));
	dec = decision(x, RECLAIM_ACTION_UNBLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	lv_resume_all(a);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	assert_int_equal(virDomainResume(d), 0);

	/* Suspended by the agent, resumed by someone else, then paused by
	 * them for their own reasons: that pause is theirs, and neither an
	 * unblock nor the agent's exit undoes it. */
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_true(x->blocked);
	assert_int_equal(virDomainResume(d), 0);
	pump(100);
	assert_false(x->blocked);
	assert_false(state_file_lists(uuid));
	assert_logged("act: resumed by someone else");
	assert_int_equal(virDomainSuspend(d), 0);
	pump(100);
	dec = decision(x, RECLAIM_ACTION_UNBLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	lv_resume_all(a);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);

	/* The same with both of theirs done before the agent reads an event:
	 * the RESUMED that follows the agent's suspend is theirs, whatever
	 * the state says when it is read. */
	assert_int_equal(virDomainResume(d), 0);
	pump(100);
	log_reset();
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_true(x->blocked);
	assert_int_equal(virDomainResume(d), 0);
	assert_int_equal(virDomainSuspend(d), 0);
	pump(100);
	assert_false(x->blocked);
	assert_logged("act: resumed by someone else");
	lv_resume_all(a);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);

	/* A resume of theirs made just before the agent's suspend, and read
	 * after it, leaves the suspend the agent's. */
	assert_int_equal(virDomainResume(d), 0);
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	pump(100);
	assert_true(x->blocked);
	lv_resume_all(a);
	assert_int_equal(dom_state(d), VIR_DOMAIN_RUNNING);
	pump(100);

	/* Suspended, then destroyed and started again, paused by someone else,
	 * while the agent is away from libvirtd and hears of none of it: that
	 * pause is not the agent's. It resumes nothing, and the state file no
	 * longer lists the domain. */
	suspend_by_agent(a, x);
	d = restart_paused(d, a);
	assert_int_equal(lv_connect(a, 0), 0);
	x = find(a, "act");
	assert_non_null(x);
	assert_false(x->blocked);
	assert_false(state_file_lists(uuid));
	assert_logged("act: started again while the agent was away from libvirt");
	lv_resume_leftovers(a);
	lv_resume_all(a);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	assert_int_equal(virDomainResume(d), 0);
	pump(100);

	/* The same across a restart of the agent: the domain listed by an
	 * agent that was killed, and started again before the next one. */
	suspend_by_agent(a, x);
	x->blocked = 0; /* forget it, as a killed agent would */
	agent_free(a);
	assert_true(state_file_lists(uuid));
	d = restart_paused(d, NULL);
	a = agent_new(0);
	assert_int_equal(lv_connect(a, 0), 0);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	assert_logged("act: started again since an earlier run of the agent suspended it");
	assert_false(state_file_lists(uuid));
	x = find(a, "act");
	assert_non_null(x);
	assert_false(x->blocked);
	assert_int_equal(virDomainResume(d), 0);
	pump(100);

	/* Still the run it suspended (the agent away, nothing else done): the
	 * agent's pause, resumed when the agent is back. */
	suspend_by_agent(a, x);
	x->blocked = 0;
	agent_free(a);
	a = agent_new(0);
	assert_int_equal(lv_connect(a, 0), 0);
	assert_int_equal(dom_state(d), VIR_DOMAIN_RUNNING);
	assert_logged("act: resumed (suspended by an earlier run of the agent)");
	x = find(a, "act");
	assert_non_null(x);
	pump(100);

	/* Saved while suspended, then started afresh instead of restored: not
	 * the domain the agent suspended, so not resumed, and forgotten. */
	log_reset();
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	char *desc = virDomainGetXMLDesc(d, 0);
	assert_non_null(desc);
	char saved_fresh[128];
	snprintf(saved_fresh, sizeof(saved_fresh), "%s/act-fresh.save", tmpdir);
	assert_int_equal(virDomainSave(d, saved_fresh), 0);
	pump(200);
	assert_true(state_file_lists(uuid));
	virDomainFree(d);
	/* (the test driver cannot start paused: suspended at once, before
	 * the agent hears of the start, it is as if started paused) */
	d = virDomainCreateXML(test_conn, desc, 0);
	free(desc);
	assert_non_null(d);
	assert_int_equal(virDomainSuspend(d), 0);
	pump(200);
	assert_logged("act: started afresh");
	assert_false(state_file_lists(uuid));
	lv_resume_leftovers(a);
	lv_resume_all(a);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	remove(saved_fresh);
	agent_free(a);
	assert_int_equal(virDomainResume(d), 0);

	/* Suspended, and then the policy cannot decide (two domains whose
	 * sizes overflow its sums: no domain XML can say such a size, so the
	 * settings are set here): no decision keeps it suspended. */
	virDomainPtr other = create("other", "", "virtio");
	a = agent_new(0);
	assert_int_equal(lv_connect(a, 0), 0);
	x = find(a, "act");
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	assert_true(find(a, "other")->managed);
	x->set.configured = find(a, "other")->set.configured = 1ull << 63;
	log_reset();
	a->budget = 64 * GIB;
	lv_tick(a);
	assert_logged("reclaim_decide: a sum of byte counts overflows 64 bits (domain ");
	assert_int_equal(dom_state(d), VIR_DOMAIN_RUNNING);
	assert_false(x->blocked);
	assert_false(state_file_lists(uuid));
	assert_int_equal(virDomainDestroy(other), 0);
	virDomainFree(other);

	agent_free(a);

	assert_int_equal(virDomainDestroy(d), 0);
	virDomainFree(d);
	manage_default_domain(1);
}

/* A dry run decides the same and changes nothing, not even the state file. */
static void
test_dry_run_changes_nothing(void **state)
{
	(void)state;
	log_reset();
	manage_default_domain(0);
	virDomainPtr d = create("dry", "", "virtio");
	assert_int_equal(virDomainSetMemoryFlags(d, 768 * 1024, VIR_DOMAIN_AFFECT_LIVE), 0);
	struct lv_agent *a = agent_new(1);
	assert_int_equal(lv_connect(a, 0), 0);
	struct lv_domain *x = find(a, "dry");
	assert_non_null(x);
	assert_logged("dry: the balloon has no stats period and a dry run does not set one");
	a->budget = 64 * GIB;
	lv_tick(a);
	assert_true(x->last.reasons & RECLAIM_REASON_DEFLATE);
	assert_int_equal(guest_kib(d), 768 * 1024);
	assert_logged("dry-run: dry: high target");
	struct reclaim_decision dec[3] = {
		decision(x, RECLAIM_ACTION_BALLOON),
		decision(x, RECLAIM_ACTION_SWAP),
		decision(x, RECLAIM_ACTION_BLOCK),
	};
	dec[0].balloon_target_bytes = 512 * MIB;
	dec[1].swap_bytes = 16 * MIB;
	for (int i = 0; i < 3; i++)
		assert_int_equal(lv_apply(a, &dec[i], 1), RECLAIM_OK);
	assert_int_equal(guest_kib(d), 768 * 1024);
	assert_int_equal(dom_state(d), VIR_DOMAIN_RUNNING);
	assert_false(x->blocked);
	assert_int_equal(x->paged_out_total, 0);
	char path[160];
	snprintf(path, sizeof(path), "%s/agent/blocked", tmpdir);
	struct stat st;
	assert_true(stat(path, &st) != 0 || st.st_size == 0);
	agent_free(a);
	assert_int_equal(virDomainDestroy(d), 0);
	virDomainFree(d);
	manage_default_domain(1);
}

/* @p size bytes of our own memory, written once and marked as QEMU marks
 * guest RAM, as domain @p d's guest RAM. */
static char *
own_ram_domain(struct lv_domain *d, size_t size)
{
	char *ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(ram != MAP_FAILED);
	assert_int_equal(madvise(ram, size, MADV_DONTFORK), 0);
	memset(ram, 1, size);
	memset(d, 0, sizeof(*d));
	guest_mem_init(&d->mem);
	uint64_t sizes[1] = {size};
	char why[200] = "";
	assert_int_equal(guest_mem_open_ram(&d->mem, getpid(), sizes, 1, why, sizeof(why)), 0);
	reclaim_rng_seed(&d->rng, 1);
	return ram;
}

/* Undoes own_ram_domain() (and the domain's sampling). */
static void
own_ram_domain_close(struct lv_domain *d, char *ram, size_t size)
{
	active_stop(d);
	guest_mem_close(&d->mem);
	munmap(ram, size);
}

/*
 * A reload may raise sample_pages: page-idle sampling makes room for the
 * larger sample (its arrays, sized for the old one, were written past).
 * Our own memory stands in for guest RAM, and a file for the idle bitmap.
 */
static void
test_page_idle_sample_grows(void **state)
{
	(void)state;
	const size_t size = 64u << 20;
	struct lv_domain d;
	char *ram = own_ram_domain(&d, size);
	struct lv_agent *a = agent_new(1);
	char path[160];
	snprintf(path, sizeof(path), "%s/page_idle", tmpdir);
	a->page_idle_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(a->page_idle_fd >= 0);
	a->active_method = LV_ACTIVE_PAGE_IDLE;
	active_start(a, &d);
	assert_int_equal(d.act.method, LV_ACTIVE_PAGE_IDLE);
	assert_int_equal(d.act.n, a->cfg.sample_pages);

	a->cfg.sample_pages *= 10; /* what a reload with a larger sample sets */
	active_sample(a, &d, lv_now_ns() + a->cfg.sample_period_ns + 1);
	active_restart(a, &d);
	assert_true(d.act.cap >= a->cfg.sample_pages);
	assert_int_equal(d.act.n, a->cfg.sample_pages);

	own_ram_domain_close(&d, ram, size);
	close(a->page_idle_fd);
	a->page_idle_fd = -1;
	agent_free(a);
}

/*
 * With clear_refs, a period's end clears the accessed bits only once the
 * tick has acted (active_restart()): host swap by lru, which acts in
 * between, must still see which pages were touched. Our own memory stands
 * in for guest RAM.
 */
static void
test_clear_refs_after_the_actions(void **state)
{
	(void)state;
	const size_t size = 16u << 20;
	struct lv_domain d;
	char *ram = own_ram_domain(&d, size);
	struct lv_agent *a = agent_new(1);
	a->active_method = LV_ACTIVE_CLEAR_REFS;
	active_start(a, &d);
	assert_int_equal(d.act.method, LV_ACTIVE_CLEAR_REFS);

	memset(ram, 2, size); /* the period's accesses */
	assert_int_equal(guest_mem_usage(&d.usage, &d.mem), 0);
	assert_true(d.usage.referenced_bytes >= size / 2);
	active_sample(a, &d, lv_now_ns() + a->cfg.sample_period_ns + 1);
	assert_int_equal(guest_mem_usage(&d.usage, &d.mem), 0);
	assert_true(d.usage.referenced_bytes >= size / 2); /* still there for the actions */
	active_restart(a, &d);
	assert_int_equal(guest_mem_usage(&d.usage, &d.mem), 0);
	assert_true(d.usage.referenced_bytes < size / 8); /* the next period starts clean */

	own_ram_domain_close(&d, ram, size);
	agent_free(a);
}

/* A name or metadata value with control characters stays on its line. */
static void
test_log_lines_cannot_be_forged(void **state)
{
	(void)state;
	log_reset();
	lv_log(LV_WARN, "%s: metadata limit='%s': expected a size", "web",
	       "2G\ndb: resumed (suspended by an earlier run of the agent)\x1b[2K\t");
	fflush(log_file);
	assert_string_equal(log_buf, "warning: web: metadata limit='2G\\ndb: resumed (suspended by "
				     "an earlier run of the agent)\\x1b[2K\\t': expected a size\n");
}

/* A process whose arguments say "-uuid UUID", as any user's may. It waits
 * in the shell's own read, on a pipe nothing is written to: a command it
 * forked would be a second claimant until its exec. */
static pid_t
claim_uuid(const char *uuid)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[0], 0);
		close(p[1]);
		execl("/bin/sh", "sh", "-c", "read x", "-uuid", uuid, (char *)NULL);
		_exit(127);
	}
	close(p[0]); /* (the write end stays open: the read waits until killed) */
	for (int i = 0; i < 200; i++) { /* until it has exec'd */
		char path[64], cmd[256] = "";
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(cmd, 1, sizeof(cmd) - 1, f) : 0;
		if (f)
			fclose(f);
		if (n > 0 && memmem(cmd, n, uuid, strlen(uuid)) != NULL)
			break;
		usleep(10000);
	}
	return pid;
}

static void
reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/*
 * The QEMU process is found by the UUID on its command line, which any
 * local user can put on a command line of their own: with two claimants
 * neither is taken (a decoy would have been read as the guest's RAM).
 */
static void
test_qemu_found_only_if_unique(void **state)
{
	(void)state;
	const char *uuid = "0b7cd7d1-6a3e-4d0a-9f0e-5a1d3c2b4e6f";
	assert_int_equal(lv_find_qemu(uuid), 0);
	pid_t one = claim_uuid(uuid);
	assert_int_equal(lv_find_qemu(uuid), one);
	pid_t two = claim_uuid(uuid);
	assert_int_equal(lv_find_qemu(uuid), -1);
	reap(two);
	assert_int_equal(lv_find_qemu(uuid), one);
	reap(one);
}

/* ---- the metrics endpoint ---- */
/* Whether @p s is valid UTF-8 (Python's rules, as Prometheus's). */
static int
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 1 : (*p >> 5) == 6 && *p >= 0xc2 ? 2 : (*p >> 4) == 14 ? 3
			: *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
		if (n == 0)
			return 0;
		for (int i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		p += n;
	}
	return 1;
}

/*
 * Label values are valid UTF-8 whatever a domain is named: a long name is
 * cut between characters, a byte that is not UTF-8 becomes U+FFFD, and
 * quotes, backslashes and newlines are escaped.
 */
static void
test_metrics_labels(void **state)
{
	(void)state;
	char name[400] = "", lbl[256];
	for (int i = 0; i < 149; i++)
		strcat(name, "\xc3\xa9"); /* 298 bytes of e-acute */
	metrics_label(lbl, sizeof(lbl), name);
	assert_true(valid_utf8(lbl));
	assert_int_equal(strlen(lbl), 254); /* 127 whole characters */
	metrics_label(lbl, sizeof(lbl), "a\xff" "b\xc3(q\"u\\o\n");
	assert_string_equal(lbl, "a\xef\xbf\xbd" "b\xef\xbf\xbd(q\\\"u\\\\o\\n");
	metrics_label(lbl, 5, "abc\"d");
	assert_string_equal(lbl, "abc"); /* the escape does not fit whole */
}


/* Connects to the agent's endpoint with a small receive buffer; sends
 * nothing. */
static int
http_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int small = 4096;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* ... and sends a request; reads nothing yet. */
static int
http_request(int port)
{
	int fd = http_connect(port);
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";

	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
	return fd;
}

/* Reads the whole reply, running the agent's event loop between reads;
 * returns its body (the caller frees it) and its length in *len. */
static char *
http_reply(int fd, size_t *len)
{
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap);

	assert_non_null(buf);
	for (int rounds = 0; rounds < 20000; rounds++) {
		ssize_t n;

		if (cap - got < 1 << 15) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = recv(fd, buf + got, cap - got - 1, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
		else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			pump(2);
		else
			fail_msg("recv: %s", strerror(errno));
	}
	close(fd);
	buf[got] = '\0';
	char *body = strstr(buf, "\r\n\r\n");
	assert_non_null(body);
	assert_non_null(strstr(buf, "HTTP/1.0 200 OK\r\n"));
	body += 4;
	*len = got - (size_t)(body - buf);
	memmove(buf, body, *len + 1);
	return buf;
}

/*
 * The endpoint answers from libvirt's event loop, the one that runs the
 * ticks: a client that asks and then does not read must hold up neither
 * the loop nor other clients, and still gets its whole reply, the metrics
 * as they were when it asked, when it does read.
 */
static void
test_metrics_slow_client(void **state)
{
	(void)state;
	struct lv_agent *a = agent_new(1);
	size_t big = 8u << 20, len;
	char *asked = malloc(big + 1), *body;

	assert_non_null(asked);
	for (size_t i = 0; i < big; i++)
		asked[i] = "reclaim_metric_line 1234567\n"[i % 28];
	asked[big] = '\0';
	a->metrics = strdup(asked);
	a->metrics_len = big;
	assert_int_equal(metrics_http_start(a, "127.0.0.1:0"), 0);
	int port = metrics_http_port(a);
	assert_true(port > 0);

	int slow = http_request(port);
	pump(50); /* its request is read, and its reply fills the socket */
	int other = http_request(port);
	body = http_reply(other, &len);
	assert_int_equal(len, big);
	assert_memory_equal(body, asked, big);
	free(body);

	/* The next tick's metrics replace these: the slow reply keeps them. */
	free(a->metrics);
	a->metrics = strdup("reclaim_host_state 0\n");
	a->metrics_len = strlen(a->metrics);
	body = http_reply(slow, &len);
	assert_int_equal(len, big);
	assert_memory_equal(body, asked, big);
	free(body);

	pump(10); /* the closed clients are freed */
	metrics_http_stop(a);
	assert_null(a->http);
	free(asked);
	agent_free(a);
}

/*
 * Clients that connect and send nothing (or ask and never read) keep
 * nobody out: with every place taken, a new client takes the place of the
 * oldest that has not finished asking, or else of the oldest, and gets
 * its reply.
 */
static void
test_metrics_idle_clients(void **state)
{
	(void)state;
	struct lv_agent *a = agent_new(1);
	int idle[24], stalled[8];
	size_t len;
	char *body;

	a->metrics = strdup("reclaim_host_state 0\n");
	a->metrics_len = strlen(a->metrics);
	assert_int_equal(metrics_http_start(a, "127.0.0.1:0"), 0);
	int port = metrics_http_port(a);
	for (int i = 0; i < 24; i++) {
		idle[i] = http_connect(port);
		pump(2);
	}
	body = http_reply(http_request(port), &len);
	assert_string_equal(body, "reclaim_host_state 0\n");
	free(body);
	for (int i = 0; i < 24; i++)
		close(idle[i]);

	/* Eight that asked for a reply too large for their sockets, and do
	 * not read it. */
	free(a->metrics);
	a->metrics_len = 8u << 20;
	a->metrics = malloc(a->metrics_len + 1);
	assert_non_null(a->metrics);
	memset(a->metrics, '#', a->metrics_len);
	a->metrics[a->metrics_len] = '\0';
	for (int i = 0; i < 8; i++) {
		stalled[i] = http_request(port);
		pump(5);
	}
	body = http_reply(http_request(port), &len);
	assert_int_equal(len, a->metrics_len);
	free(body);
	for (int i = 0; i < 8; i++)
		close(stalled[i]);

	pump(20);
	metrics_http_stop(a);
	assert_null(a->http);
	agent_free(a);
}

/* ---- calls that may hang ---- */

/* A call that waits for a byte on a pipe, as one waits on a QEMU monitor
 * that does not answer; it counts its runs and doubles its argument. */
static int hang_fd = -1;
static int hang_runs, hang_returns;

static int
hanging_call(virDomainPtr dom, void *arg)
{
	char c;
	(void)dom;
	__atomic_add_fetch(&hang_runs, 1, __ATOMIC_SEQ_CST);
	int n = (int)read(hang_fd, &c, 1);
	__atomic_add_fetch(&hang_returns, 1, __ATOMIC_SEQ_CST);
	if (n != 1)
		return -1;
	*(int *)arg *= 2;
	return c;
}

static void
test_call_that_hangs(void **state)
{
	(void)state;
	virDomainPtr dom = virDomainLookupByName(test_conn, "test");
	struct lv_call *busy = NULL;
	int p[2], arg = 21;
	assert_non_null(dom);
	assert_int_equal(pipe(p), 0);
	hang_fd = p[0];
	log_reset();

	/* Answered in time: its result, and its argument back. */
	assert_int_equal(write(p[1], "\x05", 1), 1);
	assert_int_equal(lv_call(&busy, dom, "hanging_call", hanging_call, &arg, sizeof(arg),
				 2000), 5);
	assert_int_equal(arg, 42);
	assert_null(busy);

	/* No answer: the wait ends, the call is kept, and the next call for
	 * the domain fails at once without running. */
	assert_int_equal(lv_call(&busy, dom, "hanging_call", hanging_call, &arg, sizeof(arg), 50),
			 LV_CALL_HUNG);
	assert_non_null(busy);
	assert_int_equal(arg, 42); /* untouched: the call may still write its copy */
	assert_logged("test: hanging_call has not returned in 50 ms");
	assert_int_equal(lv_call(&busy, dom, "hanging_call", hanging_call, &arg, sizeof(arg),
				 2000), LV_CALL_HUNG);
	assert_int_equal(__atomic_load_n(&hang_runs, __ATOMIC_SEQ_CST), 2);
	assert_string_equal(lv_call_err(LV_CALL_HUNG),
			    "no answer in time (its QEMU's monitor may hang)");
	assert_true(lv_call_busy(&busy));

	/* It answers: let go, and the domain's calls go on. */
	assert_int_equal(write(p[1], "\x01", 1), 1);
	for (int i = 0; i < 200 && lv_call_busy(&busy); i++)
		usleep(10000);
	assert_null(busy);
	assert_logged("test: hanging_call returned after all");
	assert_int_equal(write(p[1], "\x07", 1), 1);
	assert_int_equal(lv_call(&busy, dom, "hanging_call", hanging_call, &arg, sizeof(arg),
				 2000), 7);
	assert_int_equal(arg, 84);

	/* A domain dropped while its call hangs: the call cleans up after
	 * itself when it returns (valgrind and ASan see no leak). */
	assert_int_equal(lv_call(&busy, dom, "hanging_call", hanging_call, &arg, sizeof(arg), 50),
			 LV_CALL_HUNG);
	lv_call_drop(&busy);
	assert_null(busy);
	/* One given up on with nowhere to keep it: the same. */
	assert_int_equal(lv_call(NULL, dom, "hanging_call", hanging_call, &arg, sizeof(arg), 50),
			 LV_CALL_HUNG);
	assert_logged("test: hanging_call has not returned in 50 ms (its QEMU's monitor may hang);"
		      " given up");
	assert_int_equal(write(p[1], "\x01\x01", 2), 2);
	for (int i = 0; i < 500 && __atomic_load_n(&hang_returns, __ATOMIC_SEQ_CST) < 5; i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&hang_returns, __ATOMIC_SEQ_CST), 5);
	usleep(50000); /* (their threads let go of the calls) */
	close(p[1]);
	close(p[0]);
	virDomainFree(dom);
}

/* A domain one of whose calls hangs: its balloon, suspension and
 * resumption fail at once with -EBUSY and change nothing, and the metrics
 * say why; once the call returns, they go on. */
static void
test_busy_domain(void **state)
{
	(void)state;
	log_reset();
	manage_default_domain(0);
	virDomainPtr d = create("busy", "", "virtio");
	char uuid[VIR_UUID_STRING_BUFLEN], want[300];
	virDomainGetUUIDString(d, uuid);
	struct lv_agent *a = agent_new(0);
	assert_int_equal(lv_connect(a, 0), 0);
	struct lv_domain *x = find(a, "busy");
	assert_non_null(x);
	uint64_t kib = guest_kib(d);
	int p[2], arg = 1;
	assert_int_equal(pipe(p), 0);
	hang_fd = p[0];
	int returns = __atomic_load_n(&hang_returns, __ATOMIC_SEQ_CST);
	assert_int_equal(lv_call(&x->call, x->dom, "hanging_call", hanging_call, &arg, sizeof(arg),
				 50), LV_CALL_HUNG);

	struct reclaim_decision dec = decision(x, RECLAIM_ACTION_BALLOON | RECLAIM_ACTION_BLOCK);
	dec.balloon_target_bytes = 128 * MIB;
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_E_ADAPTER);
	assert_int_equal(a->res[0].balloon_status, -EBUSY);
	assert_int_equal(a->res[0].block_status, -EBUSY);
	assert_int_equal(guest_kib(d), kib);
	assert_int_equal(dom_state(d), VIR_DOMAIN_RUNNING);
	assert_false(x->blocked);
	assert_false(state_file_lists(uuid));
	a->budget = 64 * GIB;
	lv_tick(a);
	snprintf(want, sizeof(want), "reclaim_vm_libvirt_call_hung{domain=\"busy\",uuid=\"%s\"} 1\n",
		 uuid);
	assert_non_null(strstr(a->metrics, want));

	/* Suspended by us before the call hung: not resumed while it hangs,
	 * still listed; resumed once it returned. */
	assert_int_equal(write(p[1], "\x01", 1), 1);
	for (int i = 0; i < 200 && __atomic_load_n(&hang_returns, __ATOMIC_SEQ_CST) == returns; i++)
		usleep(10000);
	dec = decision(x, RECLAIM_ACTION_BLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_true(x->blocked);
	assert_int_equal(lv_call(&x->call, x->dom, "hanging_call", hanging_call, &arg, sizeof(arg),
				 50), LV_CALL_HUNG);
	dec = decision(x, RECLAIM_ACTION_UNBLOCK);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_E_ADAPTER);
	assert_int_equal(dom_state(d), VIR_DOMAIN_PAUSED);
	assert_true(x->blocked);
	assert_true(state_file_lists(uuid));
	assert_int_equal(write(p[1], "\x01", 1), 1);
	for (int i = 0; i < 200 && lv_call_busy(&x->call); i++)
		usleep(10000);
	assert_int_equal(lv_apply(a, &dec, 1), RECLAIM_OK);
	assert_int_equal(dom_state(d), VIR_DOMAIN_RUNNING);
	assert_false(state_file_lists(uuid));
	lv_tick(a);
	snprintf(want, sizeof(want), "reclaim_vm_libvirt_call_hung{domain=\"busy\",uuid=\"%s\"} 0\n",
		 uuid);
	assert_non_null(strstr(a->metrics, want));

	close(p[1]);
	close(p[0]);
	agent_free(a);
	assert_int_equal(virDomainDestroy(d), 0);
	virDomainFree(d);
	pump(200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domxml_defaults),
		cmocka_unit_test(test_domxml_metadata),
		cmocka_unit_test(test_domxml_bad_metadata),
		cmocka_unit_test(test_domxml_unusable),
		cmocka_unit_test(test_memstats),
		cmocka_unit_test(test_guest_view),
		cmocka_unit_test(test_meminfo),
		cmocka_unit_test(test_blocked_file),
		cmocka_unit_test(test_discovery_and_events),
		cmocka_unit_test(test_decisions_to_libvirt),
		cmocka_unit_test(test_dry_run_changes_nothing),
		cmocka_unit_test(test_log_lines_cannot_be_forged),
		cmocka_unit_test(test_qemu_found_only_if_unique),
		cmocka_unit_test(test_metrics_labels),
		cmocka_unit_test(test_metrics_slow_client),
		cmocka_unit_test(test_metrics_idle_clients),
		cmocka_unit_test(test_page_idle_sample_grows),
		cmocka_unit_test(test_clear_refs_after_the_actions),
		cmocka_unit_test(test_call_that_hangs),
		cmocka_unit_test(test_busy_domain),
	};
	return cmocka_run_group_tests_name("libvirt_agent", tests, event_loop_setup,
					   event_loop_teardown);
}
