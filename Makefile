# Builds every native part of Switchyard: the BPF objects and skeleton, the
# loader, and the lab's C tools. `npm run build` runs this, then tsc.
.PHONY: all bpf layout loader lab-tools test-tools clean
all: bpf layout loader lab-tools test-tools

bpf:
	$(MAKE) -C bpf all test

# The TypeScript side of the map-layout contract, generated from the BPF
# object's BTF (rewritten only when it changes; docs/maps.md, "Layout contract").
layout: bpf
	node scripts/map-layout/generate.mjs

loader: bpf
	$(MAKE) -C loader

lab-tools:
	$(MAKE) -C lab

test-tools:
	$(MAKE) -C test/tools

clean:
	$(MAKE) -C bpf clean
	$(MAKE) -C loader clean
	$(MAKE) -C lab clean
	$(MAKE) -C test/tools clean
	rm -rf dist
