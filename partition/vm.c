/* SPDX-License-Identifier: MIT */
/*
 * The partition: /dev/kvm, the VM, guest RAM in a memfd, the in-kernel
 * irqchip, the MSR filter that sends the Hyper-V MSR range to user space,
 * SynIC interrupts as MSIs, the VP threads and the end-of-run report.
 * KVM interface: Documentation/virt/kvm/api.rst (KVM_CREATE_VM,
 * KVM_CREATE_IRQCHIP, KVM_SET_USER_MEMORY_REGION, KVM_CAP_X86_USER_SPACE_MSR,
 * KVM_X86_SET_MSR_FILTER, KVM_SIGNAL_MSI, KVM_GET_SUPPORTED_CPUID);
 * MSI address/data format: Intel SDM vol. 3, "Message Signalled Interrupts".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/proto/tlfs.h>

#include "cpuid.h"
#include "elf_loader.h"
#include "wait.h"
#include "emu.h"
#include "vm_priv.h"
#include "x86.h"

#define KVM_API_VERSION_EXPECTED	12
#define TSS_GPA				0xfffbd000ul	/* below the BIOS, unused */
#define MSI_ADDRESS_BASE		0xfee00000u
#define MSI_DEST_SHIFT			12
/* KVM's local APIC timer counts at 1 GHz (one bus cycle per ns). */
#define KVM_APIC_HZ			1000000000ull
#define CPUID_MAX_ENTRIES		4096u

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

void part_vm_report(struct part_vm *vm, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->report_lock);
	va_start(ap, fmt);
	vfprintf(vm->report, fmt, ap);
	va_end(ap);
	fflush(vm->report);
	pthread_mutex_unlock(&vm->report_lock);
}

/* ---- Probing /dev/kvm -------------------------------------------------- */

/* What an open() error of /dev/kvm usually means, for the message. */
static const char *kvm_open_hint(int err)
{
	switch (err) {
	case ENOENT:
		return "no KVM device: the kvm module is not loaded, or this "
		       "machine is itself a guest without nested virtualisation";
	case EACCES:
	case EPERM:
		return "no permission: run as a member of the kvm group";
	case ENXIO:
	case ENODEV:
		return "the KVM module is loaded but virtualisation is off or "
		       "taken by another hypervisor";
	default:
		return "see the kernel log (dmesg)";
	}
}

struct kvm_cap_need {
	int cap;
	const char *name;
};

static const struct kvm_cap_need needed_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_X86_USER_SPACE_MSR, "KVM_CAP_X86_USER_SPACE_MSR" },
};

/* Open /dev/kvm and check it; the fd or -errno with @why filled. */
static int kvm_open_checked(char *why, size_t len)
{
	size_t i;
	int fd, ret;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, len, "/dev/kvm: %s (%s)", strerror(-ret),
			 kvm_open_hint(-ret));
		return ret;
	}
	ret = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION_EXPECTED) {
		snprintf(why, len, "/dev/kvm: API version %d, need %d", ret,
			 KVM_API_VERSION_EXPECTED);
		close(fd);
		return -ENOTSUP;
	}
	for (i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0) {
			snprintf(why, len, "/dev/kvm: no %s", needed_caps[i].name);
			close(fd);
			return -ENOTSUP;
		}
	}
	/* Without an MSR filter the Hyper-V MSRs reach user space only if
	 * KVM does not know them itself. */
	if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) <= 0 &&
	    ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_HYPERV) > 0) {
		snprintf(why, len, "/dev/kvm: no KVM_CAP_X86_MSR_FILTER, and KVM "
			 "would handle the Hyper-V MSRs itself");
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

int part_kvm_probe(char *why, size_t len)
{
	int fd = kvm_open_checked(why, len);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* ---- Stopping ---------------------------------------------------------- */

void part_vm_stop(struct part_vm *vm, int status)
{
	uint32_t i;

	pthread_mutex_lock(&vm->stop_lock);
	if (vm->stopping) {
		pthread_mutex_unlock(&vm->stop_lock);
		return;
	}
	vm->status = status;
	__atomic_store_n(&vm->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->stop_cond);
	pthread_mutex_unlock(&vm->stop_lock);
	for (i = 0; i < vm->vcpu_count; i++)
		part_vcpu_kick(&vm->vcpus[i]);
}

/* The kick signal only has to interrupt KVM_RUN; nothing to do. */
static void on_kick(int sig)
{
	(void)sig;
}

static int install_kick_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick;	/* no SA_RESTART: KVM_RUN must fail */
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR1, &sa, NULL) ? -errno : 0;
}

/* ---- SynIC interrupts ------------------------------------------------------ */

/* vmbus_synic_raise_fn: a fixed, edge-triggered MSI to VP @vp's LAPIC
 * (KVM gives VP n APIC id n; physical destination mode). */
static void raise_sint(void *opaque, uint32_t vp, uint32_t sint, uint8_t vector)
{
	struct part_vm *vm = opaque;
	struct kvm_msi msi = {
		.address_lo = MSI_ADDRESS_BASE | (vp & 0xffu) << MSI_DEST_SHIFT,
		.data = vector,
	};
	int ret;

	(void)sint;
	ret = xioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi);
	if (ret > 0)
		part_count(&vm->irq_injected);
	else if (ret == 0)
		part_count(&vm->irq_blocked);	/* LAPIC software-disabled */
	else
		part_count(&vm->irq_failed);
}

/* ---- Log sink for the library ---------------------------------------------- */

static void log_line(void *opaque, int level, const char *fmt, va_list ap)
{
	struct part_vm *vm = opaque;

	(void)level;
	pthread_mutex_lock(&vm->report_lock);
	fputs("vmbus-run: ", vm->report);
	vfprintf(vm->report, fmt, ap);
	fputc('\n', vm->report);
	pthread_mutex_unlock(&vm->report_lock);
}

/* ---- Set-up steps ------------------------------------------------------------ */

static int read_image(struct part_vm *vm, const char *path, void **buf,
		      size_t *size)
{
	char why[512];
	int ret;

	ret = part_elf_read_file(path, buf, size, why, sizeof(why));
	if (ret)
		part_vm_report(vm, "vmbus-run: %s\n", why);
	return ret;
}

static int load_guest(struct part_vm *vm, uint64_t *entry)
{
	struct part_elf_image img;
	size_t size = 0;
	void *file = NULL;
	int ret;

	ret = read_image(vm, vm->cfg->guest_path, &file, &size);
	if (ret)
		return ret;
	ret = part_elf_load(file, size, vm->ram, vm->ram_size,
			    PART_IMAGE_MIN_GPA, &img);
	free(file);
	if (ret) {
		part_vm_report(vm, "vmbus-run: %s: %s\n", vm->cfg->guest_path,
			       ret == -ERANGE ?
			       "a segment lies outside guest RAM above 1 MiB" :
			       "not a static x86-64 ELF executable");
		return ret;
	}
	ret = part_x86_setup_memory(vm->ram, vm->ram_size, vm->cfg->cpus,
				    img.high, vm->cfg->cmdline);
	if (ret)
		return ret;
	*entry = img.entry;
	return 0;
}

static int create_ram(struct part_vm *vm)
{
	struct kvm_userspace_memory_region region;
	int ret;

	vm->mem_fd = memfd_create("vmbus-run-ram", MFD_CLOEXEC);
	if (vm->mem_fd < 0)
		return -errno;
	if (ftruncate(vm->mem_fd, (off_t)vm->ram_size))
		return -errno;
	vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->mem_fd, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return -errno;
	}
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = vm->ram_size,
		.userspace_addr = (uintptr_t)vm->ram,
	};
	ret = xioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
	return ret < 0 ? ret : 0;
}

/* Send every Hyper-V MSR to user space: KVM may know some of them (and
 * would answer itself), the rest would be "unknown" MSRs. */
static int route_msrs(struct part_vm *vm)
{
	static uint8_t deny[(PART_HVMSR_LAST - PART_HVMSR_FIRST + 1) / 8];
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args[0] = KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_UNKNOWN,
	};
	struct kvm_msr_filter filter = {
		.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
		.ranges[0] = {
			.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			.nmsrs = PART_HVMSR_LAST - PART_HVMSR_FIRST + 1,
			.base = PART_HVMSR_FIRST,
			.bitmap = deny,		/* all zero: every MSR denied */
		},
	};
	int ret;

	ret = xioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
	if (ret < 0) {
		part_vm_report(vm, "vmbus-run: enabling user-space MSRs: %s\n",
			       strerror(-ret));
		return ret;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) <= 0)
		return 0;	/* checked in kvm_open_checked(): KVM has no HV MSRs */
	ret = xioctl(vm->vm_fd, KVM_X86_SET_MSR_FILTER, &filter);
	if (ret < 0)
		part_vm_report(vm, "vmbus-run: KVM_X86_SET_MSR_FILTER: %s\n",
			       strerror(-ret));
	return ret < 0 ? ret : 0;
}

static int create_vm(struct part_vm *vm)
{
	int ret;

	ret = xioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (ret < 0) {
		part_vm_report(vm, "vmbus-run: KVM_CREATE_VM: %s: KVM is unusable "
			       "here\n", strerror(-ret));
		return ret;
	}
	vm->vm_fd = ret;
	ret = xioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret < (int)sizeof(struct kvm_run)) {
		part_vm_report(vm, "vmbus-run: KVM_GET_VCPU_MMAP_SIZE: %d\n", ret);
		return ret < 0 ? ret : -EINVAL;
	}
	vm->run_size = (size_t)ret;
	/* Intel needs three pages for its real-mode TSS even though the VPs
	 * never leave long mode; other vendors ignore it. */
	if (xioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)TSS_GPA) < 0 &&
	    vm->cfg->verbose)
		part_vm_report(vm, "vmbus-run: KVM_SET_TSS_ADDR: %s (ignored)\n",
			       strerror(errno));
	ret = xioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0);
	if (ret < 0) {
		part_vm_report(vm, "vmbus-run: KVM_CREATE_IRQCHIP: %s\n",
			       strerror(-ret));
		return ret;
	}
	return route_msrs(vm);
}

static int build_cpuid(struct part_vm *vm, uint64_t tsc_hz)
{
	struct part_cpuid_config ccfg = {
		.vp_count = vm->cfg->cpus,
		.tsc_hz = tsc_hz,
		.apic_hz = tsc_hz ? KVM_APIC_HZ : 0,
	};
	struct kvm_cpuid2 *sup = NULL;
	uint32_t nent = 128;
	int ret;

	for (;;) {
		free(sup);
		sup = calloc(1, sizeof(*sup) + nent * sizeof(sup->entries[0]));
		if (!sup)
			return -ENOMEM;
		sup->nent = nent;
		ret = xioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, sup);
		if (ret != -E2BIG || nent >= CPUID_MAX_ENTRIES)
			break;
		nent *= 2;
	}
	if (ret < 0) {
		part_vm_report(vm, "vmbus-run: KVM_GET_SUPPORTED_CPUID: %s\n",
			       strerror(-ret));
		free(sup);
		return ret;
	}
	vm->cpuid = calloc(sup->nent + 16, sizeof(*vm->cpuid));
	if (!vm->cpuid) {
		free(sup);
		return -ENOMEM;
	}
	ret = part_cpuid_build(sup->entries, sup->nent, &ccfg, vm->cpuid,
			       sup->nent + 16);
	free(sup);
	if (ret < 0)
		return ret;
	vm->cpuid_n = (uint32_t)ret;
	return 0;
}

static int create_hv(struct part_vm *vm, uint64_t tsc_hz)
{
	struct part_hv_config hcfg = {
		.vp_count = vm->cfg->cpus,
		.ram = vm->ram,
		.ram_size = vm->ram_size,
		.raise = raise_sint,
		.raise_opaque = vm,
		.tsc_hz = tsc_hz,
		.apic_hz = tsc_hz ? KVM_APIC_HZ : 0,
		.test_offer = vm->cfg->test_offer,
		.log = {
			.fn = log_line,
			.opaque = vm,
			.max_level = vm->cfg->verbose ? VMBUS_LOG_DEBUG
						      : VMBUS_LOG_WARN,
		},
	};
	int ret = part_hv_new(&hcfg, &vm->hv);

	if (ret)
		part_vm_report(vm, "vmbus-run: hypervisor model: %s\n",
			       strerror(-ret));
	return ret;
}

static int create_devices(struct part_vm *vm)
{
	struct part_dev_config dcfg = {
		.disks = vm->cfg->disks,
		.disk_count = vm->cfg->disk_count,
		.nic = vm->cfg->nic,
		.log = {
			.fn = log_line,
			.opaque = vm,
			.max_level = vm->cfg->verbose ? VMBUS_LOG_DEBUG
						      : VMBUS_LOG_WARN,
		},
	};

	if (!dcfg.disk_count && !dcfg.nic)
		return 0;
	return part_dev_new(vm->hv, &dcfg, &vm->dev);
}

/* VPs exist before CPUID is final: the TSC frequency comes from VP 0. */
static int create_vcpus(struct part_vm *vm, uint64_t entry)
{
	uint64_t tsc_hz = 0;
	uint32_t i;
	int ret;

	for (i = 0; i < vm->cfg->cpus; i++) {
		ret = part_vcpu_create(vm, i);
		vm->vcpu_count = i + 1;
		if (ret)
			return ret;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) > 0) {
		ret = xioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
		if (ret > 0)
			tsc_hz = (uint64_t)ret * 1000;
	}
	ret = build_cpuid(vm, tsc_hz);
	if (ret)
		return ret;
	for (i = 0; i < vm->vcpu_count; i++) {
		ret = part_vcpu_setup(&vm->vcpus[i], entry);
		if (ret)
			return ret;
	}
	ret = create_hv(vm, tsc_hz);
	if (ret)
		return ret;
	return create_devices(vm);
}

/* ---- Run and report --------------------------------------------------------- */

static const char *exit_name(unsigned int r)
{
	switch (r) {
	case KVM_EXIT_IO: return "io";
	case KVM_EXIT_HLT: return "hlt";
	case KVM_EXIT_MMIO: return "mmio";
	case KVM_EXIT_SHUTDOWN: return "shutdown";
	case KVM_EXIT_FAIL_ENTRY: return "fail_entry";
	case KVM_EXIT_INTR: return "intr";
	case KVM_EXIT_INTERNAL_ERROR: return "internal_error";
	case KVM_EXIT_X86_RDMSR: return "rdmsr";
	case KVM_EXIT_X86_WRMSR: return "wrmsr";
	default: return NULL;
	}
}

static void print_counters(struct part_vm *vm)
{
	struct part_hv_counters c;
	unsigned int i;
	FILE *f = vm->report;

	pthread_mutex_lock(&vm->report_lock);
	fprintf(f, "vmbus-run: exits:");
	for (i = 0; i < PART_EXIT_REASONS; i++) {
		uint64_t n = __atomic_load_n(&vm->exits[i], __ATOMIC_RELAXED);
		const char *name = exit_name(i);

		if (!n)
			continue;
		if (name)
			fprintf(f, " %s=%" PRIu64, name, n);
		else
			fprintf(f, " reason%u=%" PRIu64, i, n);
	}
	fprintf(f, "\n");
	if (vm->hv) {
		part_hv_counters(vm->hv, &c);
		fprintf(f, "vmbus-run: hypercalls: post_message=%" PRIu64
			" signal_event=%" PRIu64 " other=%" PRIu64
			" failed=%" PRIu64 " page_disabled=%" PRIu64 "\n",
			c.hcall_post, c.hcall_signal, c.hcall_other,
			c.hcall_failed, c.hcall_disabled);
		fprintf(f, "vmbus-run: messages delivered=%" PRIu64
			" failed=%" PRIu64 "; events set=%" PRIu64
			"; msr #GP=%" PRIu64 "\n", c.msgs_delivered,
			c.msgs_failed, c.events_set, c.msr_gp);
	}
	fprintf(f, "vmbus-run: interrupts injected=%" PRIu64 " blocked=%" PRIu64
		" failed=%" PRIu64 "; unknown ports=%" PRIu64
		"; non-Hyper-V MSR exits=%" PRIu64 "\n",
		vm->irq_injected, vm->irq_blocked, vm->irq_failed,
		vm->io_unknown, vm->msr_other);
	part_dev_report(vm->dev, f);
	fflush(f);
	pthread_mutex_unlock(&vm->report_lock);
}

/* Wait for a stop or the time-out; true when the time-out ended the run. */
static bool wait_for_end(struct part_vm *vm)
{
	bool timed_out;

	timed_out = part_wait_stopping(&vm->stop_lock, &vm->stop_cond,
				       &vm->stopping, vm->cfg->timeout_sec);
	if (timed_out) {
		/* A VP may still stop first; then its status wins. */
		part_vm_report(vm, "vmbus-run: time-out: the guest ran for %u s "
			       "without writing its exit status\n",
			       vm->cfg->timeout_sec);
		part_vm_stop(vm, PART_EXIT_TIMEOUT);
	}
	return timed_out;
}

static int start_and_wait(struct part_vm *vm)
{
	bool timed_out;
	uint32_t i;
	int ret;

	ret = part_dev_start(vm->dev);
	if (ret) {
		part_vm_report(vm, "vmbus-run: device thread: %s\n", strerror(-ret));
		return PART_EXIT_HOST;
	}
	for (i = 0; i < vm->vcpu_count; i++) {
		ret = pthread_create(&vm->vcpus[i].thread, NULL,
				     part_vcpu_thread, &vm->vcpus[i]);
		if (ret) {
			part_vm_report(vm, "vmbus-run: VP thread: %s\n",
				       strerror(ret));
			part_vm_stop(vm, PART_EXIT_HOST);
			break;
		}
		__atomic_store_n(&vm->vcpus[i].thread_started, true,
				 __ATOMIC_RELEASE);
	}
	timed_out = wait_for_end(vm);
	/* A stop that raced with the thread starts: kick everyone again. */
	for (i = 0; i < vm->vcpu_count; i++)
		part_vcpu_kick(&vm->vcpus[i]);
	for (i = 0; i < vm->vcpu_count; i++)
		if (vm->vcpus[i].thread_started)
			pthread_join(vm->vcpus[i].thread, NULL);
	part_dev_stop(vm->dev);
	if (timed_out)
		for (i = 0; i < vm->vcpu_count; i++)
			part_vcpu_dump(&vm->vcpus[i]);
	return vm->status;
}

static int init_locks(struct part_vm *vm)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca))
		return -ENOMEM;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&vm->stop_cond, &ca)) {
		pthread_condattr_destroy(&ca);
		return -ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&vm->console_lock, NULL);
	pthread_mutex_init(&vm->report_lock, NULL);
	pthread_mutex_init(&vm->stop_lock, NULL);
	return 0;
}

static void teardown(struct part_vm *vm)
{
	uint32_t i;

	for (i = 0; i < vm->vcpu_count; i++)
		part_vcpu_fini(&vm->vcpus[i]);
	part_dev_free(vm->dev);
	part_hv_free(vm->hv);
	free(vm->cpuid);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_cond_destroy(&vm->stop_cond);
	pthread_mutex_destroy(&vm->console_lock);
	pthread_mutex_destroy(&vm->report_lock);
	pthread_mutex_destroy(&vm->stop_lock);
}

/* Everything up to the first instruction; a PART_EXIT_* on failure. */
static int prepare(struct part_vm *vm)
{
	char why[256];
	uint64_t entry;
	int ret;

	vm->kvm_fd = kvm_open_checked(why, sizeof(why));
	if (vm->kvm_fd < 0) {
		part_vm_report(vm, "vmbus-run: %s\nvmbus-run: KVM is unusable "
			       "here\n", why);
		return PART_EXIT_NO_KVM;
	}
	if (create_vm(vm))
		return PART_EXIT_NO_KVM;
	ret = create_ram(vm);
	if (ret) {
		part_vm_report(vm, "vmbus-run: guest RAM of %" PRIu64 " bytes: %s\n",
			       vm->ram_size, strerror(-ret));
		return PART_EXIT_HOST;
	}
	if (load_guest(vm, &entry))
		return PART_EXIT_IMAGE;
	if (install_kick_handler())
		return PART_EXIT_HOST;
	ret = create_vcpus(vm, entry);
	return ret ? PART_EXIT_HOST : 0;
}

/* "/dev/kvm: No such file or directory (hint...)" without the hint. */
static void kvm_reason(char *why)
{
	char *hint = strstr(why, " (");

	if (hint)
		*hint = '\0';
}

int part_vm_run(const struct part_vm_config *cfg)
{
	struct part_vm *vm;
	char why[256];
	int status;

	if (!cfg || !cfg->guest_path || !cfg->cpus || cfg->cpus > PART_MAX_CPUS)
		return PART_EXIT_USAGE;
	if (cfg->accel == PART_ACCEL_EMULATE)
		return part_emu_run(cfg);
	if (cfg->accel == PART_ACCEL_AUTO && part_kvm_probe(why, sizeof(why))) {
		kvm_reason(why);
		fprintf(cfg->report ? cfg->report : stderr,
			"vmbus-run: KVM is unusable here (%s); %s\n", why,
			part_emu_available() ?
			"running the guest on the Unicorn CPU emulator instead, "
			"much slower" :
			"and this vmbus-run was built without the Unicorn CPU "
			"emulator (libunicorn-dev), so the guest cannot run");
		if (!part_emu_available())
			return PART_EXIT_NO_KVM;
		return part_emu_run(cfg);
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return PART_EXIT_HOST;
	vm->cfg = cfg;
	vm->console = cfg->console ? cfg->console : stdout;
	vm->report = cfg->report ? cfg->report : stderr;
	vm->kvm_fd = vm->vm_fd = vm->mem_fd = -1;
	vm->ram_size = cfg->mem_size;
	if (init_locks(vm)) {
		free(vm);
		return PART_EXIT_HOST;
	}
	status = prepare(vm);
	if (!status) {
		status = start_and_wait(vm);
		print_counters(vm);
	}
	fflush(vm->console);
	teardown(vm);
	free(vm);
	return status;
}
