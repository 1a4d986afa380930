# Makefile: short names for the scripts in scripts/. Each target runs one
# script; the scripts say what they do and take the same arguments without
# make (scripts/package.sh relay deb, ...).

.PHONY: help package deb relay windows fyne-package checksums repro-check install-deb-test package-test test clean

help:
	@echo 'make package           every artefact into dist/ (.deb, relay binaries, Windows .exe, Fyne bundle, SHA256SUMS)'
	@echo 'make deb | relay | windows | fyne-package | checksums   one of them'
	@echo 'make package-test      check what make package built (.deb contents, relay binaries)'
	@echo 'make repro-check       build the relay binaries and the .deb twice in two clones; compare'
	@echo 'make install-deb-test  install the .deb, use it, remove and purge it (root)'
	@echo 'make test              the test suite (scripts/test.sh)'

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

clean:
	rm -rf dist
