/*
 * Motorola MC146818A real-time clock and the PC's 128 bytes of CMOS RAM at ports 0x70 (index,
 * bit 7 = NMI disable) and 0x71 (data). The clock shows the host's UTC date; the guest may set it
 * (an offset to the host clock is kept). Interrupts (periodic, alarm, update-ended) go to IRQ 8.
 */
#ifndef SOFTVM_DEV_RTC_H
#define SOFTVM_DEV_RTC_H
#include <stdbool.h>
#include <stdint.h>

#include "dev/irq.h"
#include "machine/iobus.h"
#include "machine/timer.h"

/* What the RTC is built with: the CMOS memory sizes a BIOS would have stored, and its clocks. */
struct rtc_config {
	uint64_t ram_below_4g; /* bytes of RAM below 4 GiB, from address 0 */
	uint64_t ram_above_4g; /* bytes of RAM from 4 GiB on */
	unsigned cpus;         /* CMOS 0x5f holds cpus - 1 (SeaBIOS) when >= 1 */
	bool ps2_mouse;        /* equipment byte bit 2 */
	uint64_t (*now)(void); /* monotonic ns, the timer time base (clock_ns); NULL: clock_ns */
	int64_t (*wall)(void); /* host UTC time, ns since 1970-01-01; NULL: CLOCK_REALTIME */
};

struct rtc {
	uint8_t cmos[128]; /* registers 0x00-0x0d are interpreted, the rest is plain memory */
	uint8_t index;
	bool nmi_disabled;  /* bit 7 of the last write to port 0x70 */
	/* RTC time = base_sec + (now() + phase_ns) / 1e9 s while running; the fraction of a second
	 * is (now() + phase_ns) % 1e9, so updates happen when that wraps. */
	int64_t base_sec;
	uint64_t phase_ns;
	bool stopped;       /* SET or a stopped divider: cmos[0..9] hold the frozen time */
	bool divider_restart; /* the divider was stopped: the first update comes 0.5 s after restart */
	uint64_t synced_ns; /* now() up to which register C's flags are accumulated */
	uint64_t alarm_T;   /* next alarm as a value of now()+phase_ns (UINT64_MAX: none) */
	struct irq irq;
	struct timer timer;
	struct timer_list *timers;
	uint64_t (*now)(void);
	int64_t (*wall)(void);
};

/* Registers ports 0x70-0x71, fills the CMOS and sets the clock from cfg->wall. */
int rtc_init(struct rtc *r, struct iobus *pio, struct timer_list *timers, struct irq irq, const struct rtc_config *cfg);
/* The machine's reset: interrupt enables and flags clear; time and CMOS contents are kept. */
void rtc_reset(struct rtc *r);
/* Bit 7 of port 0x70: the guest masks NMIs with it. */
bool rtc_nmi_disabled(const struct rtc *r);
/* The RTC's current time in seconds since 1970 (what the guest reads, after its own changes). */
int64_t rtc_time(struct rtc *r);
#endif
