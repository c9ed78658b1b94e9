/* SPDX-License-Identifier: MIT */
/*
 * What a domain's XML says about its memory, read with libxml2 (the XML
 * library libvirt itself uses), and the policy inputs it implies:
 *
 *   shares       <reclaim:vm shares=...>, else 10 per MiB of <memory>
 *   reservation  <reclaim:vm reservation=...>, else <memtune><min_guarantee>
 *   limit        <reclaim:vm limit=...>, else the smaller of
 *                <memtune><hard_limit> and the persistent <currentMemory>
 *                (when below <memory>), else none
 *   balloon cap  <reclaim:vm balloon-cap=...>, else none
 *   guest swap   <reclaim:vm guest-swap=...>, else 0
 *
 * where reclaim:vm lives in <metadata> under LV_METADATA_URI. The metadata is
 * the operator's, not the guest's, but it is still text typed by hand: a bad
 * value gets one log line and the default, never a failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "lvagent.h"

#define MIB (1ull << 20)

const char *
lv_source_name(enum lv_source src)
{
	switch (src) {
	case LV_SRC_METADATA:
		return "metadata";
	case LV_SRC_MEMTUNE:
		return "memtune";
	case LV_SRC_CURRENT:
		return "currentMemory";
	case LV_SRC_DEFAULT:
		break;
	}
	return "default";
}

static xmlDocPtr
parse(const char *xml)
{
	if (xml == NULL)
		return NULL;
	size_t len = strlen(xml);
	if (len > (size_t)INT32_MAX)
		return NULL;
	return xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlXPathObjectPtr
eval(xmlXPathContextPtr ctx, const char *expr)
{
	return xmlXPathEvalExpression((const xmlChar *)expr, ctx);
}

/* The string value of @p expr, or NULL (caller frees with free()). */
static char *
xstring(xmlXPathContextPtr ctx, const char *expr)
{
	char full[256];
	snprintf(full, sizeof(full), "string(%s)", expr);
	xmlXPathObjectPtr o = eval(ctx, full);
	char *out = NULL;
	if (o != NULL && o->type == XPATH_STRING && o->stringval != NULL && o->stringval[0])
		out = strdup((const char *)o->stringval);
	xmlXPathFreeObject(o);
	return out;
}

/* libvirt's memory units: bytes, b, KB, k, KiB, MB, M, MiB, ... */
static int
unit_factor(uint64_t *factor, const char *unit)
{
	static const struct {
		const char *name;
		uint64_t factor;
	} units[] = {
		{"b", 1}, {"bytes", 1},
		{"KB", 1000ull}, {"k", 1ull << 10}, {"KiB", 1ull << 10},
		{"MB", 1000000ull}, {"M", 1ull << 20}, {"MiB", 1ull << 20},
		{"GB", 1000000000ull}, {"G", 1ull << 30}, {"GiB", 1ull << 30},
		{"TB", 1000000000000ull}, {"T", 1ull << 40}, {"TiB", 1ull << 40},
	};
	if (unit == NULL || *unit == '\0') {
		*factor = 1ull << 10; /* libvirt's default unit is KiB */
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		/* libvirt reads unit names in any case: "kb" is 1000, "k" 1024. */
		if (strcasecmp(unit, units[i].name) == 0) {
			*factor = units[i].factor;
			return 0;
		}
	}
	return -1;
}

/* A libvirt scaled integer: @p value in @p unit; 0 or -1. */
static int
scaled(uint64_t *out, const char *value, const char *unit)
{
	uint64_t factor;
	char *end;

	/* Digits only: strtoull would also take leading blanks and a sign
	 * (" -1" is 2^64 - 1). */
	if (value == NULL || *value < '0' || *value > '9' || unit_factor(&factor, unit) != 0)
		return -1;
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0' || (factor && v > UINT64_MAX / factor))
		return -1;
	*out = (uint64_t)v * factor;
	return 0;
}

/* Element @p path's scaled value (its unit attribute, KiB by default). */
static int
element_bytes(uint64_t *out, xmlXPathContextPtr ctx, const char *path)
{
	char expr[200];
	snprintf(expr, sizeof(expr), "%s/@unit", path);
	char *value = xstring(ctx, path);
	char *unit = xstring(ctx, expr);
	int r = value ? scaled(out, value, unit) : 1;
	free(value);
	free(unit);
	return r; /* 1: absent */
}

/* Memory backends: one per NUMA cell, else the initial memory; plus one per
 * DIMM or virtio-mem device. */
static void
read_ram(struct lv_settings *s, xmlXPathContextPtr ctx, const char *name)
{
	s->n_ram = 0;
	uint64_t devices = 0;
	xmlXPathObjectPtr o = eval(ctx, "/domain/devices/memory");
	int n = (o && o->nodesetval) ? o->nodesetval->nodeNr : 0;
	for (int i = 0; i < n; i++) {
		xmlNodePtr dev = o->nodesetval->nodeTab[i];
		xmlXPathContextPtr sub = xmlXPathNewContext(dev->doc);
		if (sub == NULL)
			continue;
		sub->node = dev;
		uint64_t size = 0;
		char *model = xstring(sub, "@model");
		if (element_bytes(&size, sub, "target/size") == 0) {
			devices += size;
			if (model && (!strcmp(model, "dimm") || !strcmp(model, "virtio-mem")) &&
			    s->n_ram < GUEST_MEM_MAX_REGIONS)
				s->ram[s->n_ram++] = size;
		}
		free(model);
		xmlXPathFreeContext(sub);
	}
	xmlXPathFreeObject(o);

	size_t first_device = 0;
	uint64_t cells[GUEST_MEM_MAX_REGIONS];
	size_t n_cells = 0;
	o = eval(ctx, "/domain/cpu/numa/cell");
	n = (o && o->nodesetval) ? o->nodesetval->nodeNr : 0;
	for (int i = 0; i < n && n_cells < GUEST_MEM_MAX_REGIONS; i++) {
		xmlNodePtr cell = o->nodesetval->nodeTab[i];
		xmlChar *mem = xmlGetProp(cell, (const xmlChar *)"memory");
		xmlChar *unit = xmlGetProp(cell, (const xmlChar *)"unit");
		uint64_t size;
		if (mem && scaled(&size, (const char *)mem, (const char *)unit) == 0 && size > 0)
			cells[n_cells++] = size;
		else
			lv_log(LV_WARN, "%s: NUMA cell %d: unreadable memory size", name, i);
		xmlFree(mem);
		xmlFree(unit);
	}
	xmlXPathFreeObject(o);
	if (n_cells == 0) {
		uint64_t initial = s->configured > devices ? s->configured - devices : 0;
		if (initial > 0)
			cells[n_cells++] = initial;
	}
	/* Cells first, then devices, in the array. */
	size_t total = n_cells + s->n_ram;
	if (total > GUEST_MEM_MAX_REGIONS)
		total = GUEST_MEM_MAX_REGIONS;
	uint64_t devs[GUEST_MEM_MAX_REGIONS];
	memcpy(devs, s->ram, s->n_ram * sizeof(devs[0]));
	for (size_t i = 0; i < n_cells; i++)
		s->ram[i] = cells[i];
	for (size_t i = n_cells; i < total; i++)
		s->ram[i] = devs[first_device++];
	s->n_ram = total;
}

static const char *const meta_attrs[] = {"shares", "reservation", "limit", "balloon-cap",
					 "guest-swap", "manage"};

static int
parse_limit_value(uint64_t *out, const char *v)
{
	if (!strcmp(v, "none") || !strcmp(v, "unlimited")) {
		*out = RECLAIM_UNLIMITED;
		return 0;
	}
	return parse_size(out, v);
}

static void
read_metadata(struct lv_settings *s, xmlXPathContextPtr ctx, const char *name)
{
	xmlXPathObjectPtr o = eval(ctx, "/domain/metadata/r:vm");
	int n = (o && o->nodesetval) ? o->nodesetval->nodeNr : 0;
	if (n == 0) {
		xmlXPathFreeObject(o);
		return;
	}
	if (n > 1)
		lv_log(LV_WARN, "%s: %d <reclaim:vm> metadata elements; reading the first", name,
		       n);
	xmlNodePtr vm = o->nodesetval->nodeTab[0];
	for (xmlAttrPtr at = vm->properties; at != NULL; at = at->next) {
		const char *key = (const char *)at->name;
		int known = 0;
		for (size_t i = 0; i < sizeof(meta_attrs) / sizeof(meta_attrs[0]); i++)
			known |= !strcmp(key, meta_attrs[i]);
		if (!known)
			lv_log(LV_WARN, "%s: metadata: unknown attribute '%s' ignored (known: shares, "
			       "reservation, limit, balloon-cap, guest-swap, manage)", name, key);
	}

	char *v;
	if ((v = (char *)xmlGetProp(vm, (const xmlChar *)"shares")) != NULL) {
		char *end;
		uint64_t per_mib = 0;
		if (!strcmp(v, "low"))
			per_mib = 5;
		else if (!strcmp(v, "normal"))
			per_mib = 10;
		else if (!strcmp(v, "high"))
			per_mib = 20;
		if (per_mib) {
			s->shares = per_mib * (s->configured / MIB);
			s->src_shares = LV_SRC_METADATA;
		} else {
			errno = 0;
			unsigned long long x = strtoull(v, &end, 10);
			if (errno == 0 && *v >= '0' && *v <= '9' && *end == '\0') {
				s->shares = x;
				s->src_shares = LV_SRC_METADATA;
			} else {
				lv_log(LV_WARN, "%s: metadata shares='%s': expected a number or "
				       "low, normal, high; using the default", name, v);
			}
		}
		xmlFree(v);
	}
	static const struct {
		const char *attr;
		size_t field;
		size_t src;
		int limit_syntax;
	} sizes[] = {
		{"reservation", offsetof(struct lv_settings, reservation),
		 offsetof(struct lv_settings, src_reservation), 0},
		{"limit", offsetof(struct lv_settings, limit), offsetof(struct lv_settings, src_limit),
		 1},
		{"balloon-cap", offsetof(struct lv_settings, balloon_cap),
		 offsetof(struct lv_settings, src_balloon_cap), 1},
		{"guest-swap", offsetof(struct lv_settings, guest_swap),
		 offsetof(struct lv_settings, src_guest_swap), 0},
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		v = (char *)xmlGetProp(vm, (const xmlChar *)sizes[i].attr);
		if (v == NULL)
			continue;
		uint64_t bytes;
		int ok = sizes[i].limit_syntax ? parse_limit_value(&bytes, v) == 0
					       : parse_size(&bytes, v) == 0;
		if (ok && !strcmp(sizes[i].attr, "limit") && bytes == 0)
			ok = 0;
		if (ok) {
			memcpy((char *)s + sizes[i].field, &bytes, sizeof(bytes));
			enum lv_source src = LV_SRC_METADATA;
			memcpy((char *)s + sizes[i].src, &src, sizeof(src));
		} else {
			lv_log(LV_WARN, "%s: metadata %s='%s': expected a size such as 512M or 2G%s; "
			       "using the default", name, sizes[i].attr, v,
			       sizes[i].limit_syntax ? " (or none)" : "");
		}
		xmlFree(v);
	}
	if ((v = (char *)xmlGetProp(vm, (const xmlChar *)"manage")) != NULL) {
		if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
			s->manage = 0;
		else if (strcmp(v, "yes") != 0 && strcmp(v, "true") != 0 && strcmp(v, "1") != 0)
			lv_log(LV_WARN, "%s: metadata manage='%s': expected yes or no; managing it",
			       name, v);
		xmlFree(v);
	}
	xmlXPathFreeObject(o);
}

int
domxml_parse(struct lv_settings *out, const char *name, const char *xml,
	     const char *inactive_xml)
{
	struct lv_settings s;
	memset(&s, 0, sizeof(s));
	s.manage = 1;
	s.limit = RECLAIM_UNLIMITED;
	s.balloon_cap = RECLAIM_UNLIMITED;

	xmlDocPtr doc = parse(xml);
	if (doc == NULL) {
		lv_log(LV_ERROR, "%s: cannot parse the domain XML", name);
		return -1;
	}
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	if (ctx == NULL || xmlXPathRegisterNs(ctx, (const xmlChar *)"r",
					      (const xmlChar *)LV_METADATA_URI) != 0) {
		xmlXPathFreeContext(ctx);
		xmlFreeDoc(doc);
		lv_log(LV_ERROR, "%s: out of memory reading the domain XML", name);
		return -1;
	}

	int rc = -1;
	char *type = xstring(ctx, "/domain/@type");
	s.kvm = type != NULL && !strcmp(type, "kvm");
	snprintf(s.type, sizeof(s.type), "%s", type ? type : "?");
	free(type);
	if (element_bytes(&s.configured, ctx, "/domain/memory") != 0 || s.configured == 0) {
		lv_log(LV_ERROR, "%s: the domain XML has no usable <memory>", name);
		goto out;
	}
	/* The policy sums every VM's size: one domain as large as a 64-bit
	 * count allows would make every decide on the host fail. Up to
	 * LV_MAX_DOMAINS domains of at most this much cannot overflow. */
	if (s.configured > LV_MAX_DOMAIN_BYTES) {
		lv_log(LV_ERROR, "%s: <memory> above 128 TiB, more than any host has", name);
		goto out;
	}

	char *model = xstring(ctx, "/domain/devices/memballoon/@model");
	s.has_balloon = model != NULL && !strncmp(model, "virtio", 6);
	free(model);
	char *period = xstring(ctx, "/domain/devices/memballoon/stats/@period");
	if (period != NULL) {
		char *end;
		unsigned long p = strtoul(period, &end, 10);
		s.stats_period = (*end == '\0' && p < 86400) ? (unsigned)p : 0;
		free(period);
	}
	char *doom = xstring(ctx, "/domain/devices/memballoon/driver/@deflate_on_oom");
	s.deflate_on_oom = doom != NULL && !strcmp(doom, "on");
	free(doom);
	read_ram(&s, ctx, name);

	/* Defaults from what libvirt already has. */
	s.shares = 10 * (s.configured / MIB);
	uint64_t v;
	if (element_bytes(&v, ctx, "/domain/memtune/min_guarantee") == 0) {
		s.reservation = v;
		s.src_reservation = LV_SRC_MEMTUNE;
	}
	/* hard_limit bounds the whole QEMU process; as a bound on guest RAM it
	 * is generous by QEMU's own overhead. */
	if (element_bytes(&v, ctx, "/domain/memtune/hard_limit") == 0 && v < s.configured) {
		s.limit = v;
		s.src_limit = LV_SRC_MEMTUNE;
	}
	xmlDocPtr idoc = parse(inactive_xml);
	if (idoc != NULL) {
		xmlXPathContextPtr ictx = xmlXPathNewContext(idoc);
		if (ictx != NULL && element_bytes(&v, ictx, "/domain/currentMemory") == 0 &&
		    v > 0 && v < s.configured && v < s.limit) {
			s.limit = v;
			s.src_limit = LV_SRC_CURRENT;
		}
		xmlXPathFreeContext(ictx);
		xmlFreeDoc(idoc);
	}

	read_metadata(&s, ctx, name);

	/* The policy refuses a reservation above min(size, limit): clamp. */
	uint64_t top = s.limit < s.configured ? s.limit : s.configured;
	if (s.reservation > top) {
		char a[32], b[32];
		lv_log(LV_WARN, "%s: reservation %s above %s %s; using %s", name,
		       format_size(a, sizeof(a), s.reservation),
		       s.limit < s.configured ? "the limit" : "the memory size",
		       format_size(b, sizeof(b), top), b);
		s.reservation = top;
	}
	*out = s;
	rc = 0;
out:
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return rc;
}
