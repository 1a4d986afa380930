# Makefile: short names for the scripts in scripts/. Each target runs one
# script; the scripts say what they do and take the same arguments without
# make (scripts/package.sh relay deb, ...).

.PHONY: help package deb relay windows fyne-package checksums repro-check install-deb-test package-test test bench fuzz compare hostile chaos crash clean

help:
	@echo 'make package           every artefact into dist/ (.deb, relay binaries, Windows .exe, Fyne bundle, SHA256SUMS)'
	@echo 'make deb | relay | windows | fyne-package | checksums   one of them'
	@echo 'make package-test      check what make package built (.deb contents, relay binaries)'
	@echo 'make repro-check       build the relay binaries and the .deb twice in two clones; compare'
	@echo 'make install-deb-test  install the .deb, use it, remove and purge it (root)'
	@echo 'make test              the test suite (scripts/test.sh)'
	@echo 'make chaos             6 serves in network namespaces: partitions, WAN, kills, skewed clock, air gap (root); writes docs/reliability.md'
	@echo 'make fuzz              every fuzz target for 20 times its CI budget; writes docs/reliability.md (FUZZSCALE=N)'
	@echo 'make bench             measure against the limits (noroshi bench); writes docs/performance.md'
	@echo 'make compare           side by side with Syncthing (apt-get install syncthing); writes docs/performance.md'
	@echo 'make hostile           a member forging on every channel for 60 s against 3 honest serves; writes docs/reliability.md'
	@echo 'make crash             100 SIGKILLs during writes, bundle imports and view folds; checks after each restart; writes docs/reliability.md'

package:
	scripts/package.sh all

deb:
	scripts/package.sh deb

relay:
	scripts/package.sh relay

windows:
	scripts/package.sh windows

fyne-package:
	scripts/package.sh fyne

checksums:
	scripts/package.sh checksums

package-test:
	go test -count=1 ./packaging/

repro-check:
	scripts/repro-check.sh

install-deb-test:
	scripts/install-deb-test.sh

test:
	scripts/test.sh

chaos:
	go run ./cmd/noroshi-proof chaos --doc docs/reliability.md

bench:
	go run -tags nogui ./cmd/noroshi bench --doc docs/performance.md

fuzz:
	go run ./cmd/noroshi-proof fuzz --scale $${FUZZSCALE:-20} --parallel 2 --doc docs/reliability.md

compare:
	go run ./cmd/noroshi-proof compare --doc docs/performance.md

hostile:
	go run ./cmd/noroshi-proof hostile --doc docs/reliability.md

crash:
	go run ./cmd/noroshi-proof crash --doc docs/reliability.md

clean:
	rm -rf dist
