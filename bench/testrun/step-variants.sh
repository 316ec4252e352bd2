#!/bin/sh
# Profiling-only builds of switchyard.bpf.o for the per-step cost of a new
# flow (issue #17, docs/benchmarks.md "Where a new flow's time goes"): each
# variant is a copy of bpf/ with one step of the IPv4 new-flow path taken out
# (or, for a lookup the path cannot do without, done twice: the difference is
# one more such lookup). Never loaded by the agent; only timed side by side
# with the unchanged build by `bpf/build/ext-cost steps`.
#
#   bench/testrun/step-variants.sh OUTDIR [VARIANT...]
#
# Writes OUTDIR/VARIANT.o for each variant (all of them when none is named)
# and OUTDIR/base.o (the tree as it is). A substitution that no longer
# matches the source fails the build of that variant, loudly.
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# SRC: the bpf/ directory to build from (default: this tree's), e.g. an older
# tree's for a baseline.
SRC=${SRC:-$REPO/bpf}
OUT=${1:?usage: step-variants.sh OUTDIR [VARIANT...]}
shift
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# NAME|FILES|PERL-EXPRESSION (perl -0pe: the whole file is one string). All
# but the last three take a step out, or add one more of a lookup:
#   snat-insert-first  the SNAT port claimed by the insert first, the
#                      candidate looked at only when taken (a cut tried);
#   ct-only            parse and the conntrack lookups and inserts only (the
#                      floor of a new flow);
#   ct-own             sy_conntrack of its own (one entry less, the same
#                      buckets): what a map of its own alone does;
#   ct-64k, lru-percpu sy_conntrack with 65,536 entries / per-CPU LRU lists
#                      (maps of their own too: compare them with ct-own).
# no-maglev picks backend id = the frontend's group (what ext-cost steps
# programs: one backend per group, of the group's id).
VARIANTS='
empty|sy_tc.h xdp.c|s/(static __noinline int sy_tc4_main\(struct __sk_buff \*skb, int role\)\n\{\n(?s:.*?)int ret, verdict;\n)/$1\treturn TCX_NEXT;\n/; s/(static __noinline int sy_xdp4\(struct xdp_md \*ctx\)\n\{\n(?s:.*?)int ret, verdict;\n)/$1\treturn XDP_PASS;\n/
parse-only|sy_tc.h xdp.c|s/(\n\tverdict = sy_lb_decide\(&pkt, role,)/\n\treturn TCX_NEXT;$1/; s/(\n\tverdict = sy_lb_decide\(&pkt, SY_ROLE_EXTERNAL,)/\n\treturn XDP_PASS;$1/
no-ct-lookup|sy_lb.h|s/ct = bpf_map_lookup_elem\(&sy_conntrack, &key\);/ct = NULL;/g
no-ct-insert|sy_conntrack.h|s/bpf_map_update_elem\(&sy_conntrack, &key, &val, BPF_ANY\);/(void)val;/g; s/bpf_map_update_elem\(&sy_conntrack, &key, &val,\s*BPF_NOEXIST\) == 0/1/
snat-insert-first|sy_conntrack.h|s/(\t\tcur = bpf_map_lookup_elem\(&sy_conntrack, &key\);\n\t\tif \(cur\) \{)/\t\tif (bpf_map_update_elem(\&sy_conntrack, \&key, \&val, BPF_NOEXIST) == 0) {\n\t\t\tfound = 1;\n\t\t\tbreak;\n\t\t}\n$1/
no-snat-probe|sy_conntrack.h|s/cur = bpf_map_lookup_elem\(&sy_conntrack, &key\);/cur = NULL;/
no-internal-miss|sy_frontend.h|s/if \(role == SY_ROLE_POD\) \{/if (role == SY_ROLE_POD \&\& !map) {/
ct-only|sy_lb.h|s/(\t\/\* Step 3: is it a frontend at all\? \*\/\n)/$1\tsy_ct_create(pkt, pkt->daddr, pkt->dport, 1, 1, now);\n\treturn SY_LB_PASS;\n/
ct-own|sy_maps.h|s/(\t__uint\(max_entries, )262144(\);\n\t__type\(key, struct sy_ct_key\);)/${1}262143$2/
ct-64k|sy_maps.h|s/(\t__uint\(max_entries, )262144(\);\n\t__type\(key, struct sy_ct_key\);)/${1}65536$2/
lru-percpu|sy_maps.h|s/(\t__uint\(max_entries, 262144\);\n\t__type\(key, struct sy_ct_key\);)/\t__uint(map_flags, BPF_F_NO_COMMON_LRU);\n$1/
twice-frontend|sy_frontend.h|s/(\treturn sy_lookup_scoped\(&sy_services, &key, &key.scope, role\);)/\tif (!sy_lookup_scoped(&sy_services, &key, &key.scope, role)) return NULL;\n$1/
no-hash|sy_jhash.h|s/(__u8 proto, __u32 seed\)\n\{\n)(\treturn sy_jhash_3words\(bpf_ntohl\(saddr\), )/$1\treturn saddr ^ sport ^ seed;\n$2/
no-maglev|sy_maglev.h|s/(__u32 hash, __u32 \*backend_id\)\n\{\n)/$1\t*backend_id = svc->group + (hash \& 0);\n\treturn 0;\n/
twice-backend|sy_pick.h|s/(\t\tbe = bpf_map_lookup_elem\(sy_backends_map\(fam\), &id\);\n\t\tif \(!be\)\n\t\t\treturn NULL;)/\t\tif (!bpf_map_lookup_elem(sy_backends_map(fam), &id))\n\t\t\treturn NULL;\n$1/
no-account|sy_lb.h|s/(int hook, __u64 len\)\n\{\n)(\tsy_xlate_count\(x->reply)/$1\tif (len) return;\n$2/
no-events|sy_events.h|s/(\n#endif \/\* SY_EVENTS_H \*\/)/\n#undef sy_event_trace4\n#define sy_event_trace4(p, x, h) do { } while (0)\n#undef sy_event_ct_new4\n#define sy_event_ct_new4(p, x, h) do { } while (0)\n$1/
no-rewrite|sy_nat.h|s/(__be32 daddr, __be16 dport\)\n\{\n\tint ret;\n)/$1\n\treturn 0;\n/; s/(__be32 daddr, __be16 dport\)\n\{\n\tvoid \*data = \(void \*\)\(long\)ctx->data;\n)/$1\treturn 0;\n/
no-fib|sy_tc.h xdp.c|s/rc = bpf_fib_lookup\(skb, &fib, sizeof\(fib\), 0\);\n\tif \(rc == BPF_FIB_LKUP_RET_FRAG_NEEDED\) \{/rc = 0; fib.ifindex = skb->ifindex;\n\tif (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {/; s/rc = bpf_fib_lookup\(ctx, fib, sizeof\(\*fib\), 0\);/rc = 0; fib->ifindex = ctx->ingress_ifindex;/
'

build() { # NAME: builds $OUT/NAME.o from $OUT/src-NAME
	make -s -C "$OUT/src-$1" build/switchyard.bpf.o >/dev/null
	cp "$OUT/src-$1/build/switchyard.bpf.o" "$OUT/$1.o"
}

copy() { # NAME
	rm -rf "$OUT/src-$1"
	mkdir -p "$OUT/src-$1"
	cp -r "$SRC/Makefile" "$SRC/include" "$SRC"/*.c "$OUT/src-$1/"
}

copy base && build base && echo "$OUT/base.o"
printf "%s\n" "$VARIANTS" | while IFS='|' read -r name files expr; do
	[ -n "$name" ] || continue
	if [ $# -gt 0 ]; then
		case " $* " in *" $name "*) ;; *) continue ;; esac
	fi
	copy "$name"
	for f in $files; do
		p="$OUT/src-$name/$f"; [ -f "$p" ] || p="$OUT/src-$name/include/$f"
		cp "$p" "$p.orig"
		perl -0pi -e "$expr" "$p"
		if cmp -s "$p" "$p.orig"; then echo "step-variants: $name: no match in $f" >&2; exit 1; fi
		rm "$p.orig"
	done
	build "$name" && echo "$OUT/$name.o"
done
