/* SPDX-License-Identifier: MIT */
/*
 * The emulated partition (emu.h) in a build without Unicorn: it reports
 * that it is missing. No external format is involved.
 */
#include <stdio.h>

#include "emu.h"

bool part_emu_available(void)
{
	return false;
}

int part_emu_run(const struct part_vm_config *cfg)
{
	fprintf(cfg->report ? cfg->report : stderr,
		"vmbus-run: this vmbus-run was built without the Unicorn CPU "
		"emulator (install libunicorn-dev and rebuild)\n");
	return PART_EXIT_NO_KVM;
}
