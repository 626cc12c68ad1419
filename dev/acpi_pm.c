/*
 * ACPI fixed-hardware power management registers (ACPI 6.5 §4.8.3): the PM1a event block
 * (PM1_STS, write-1-to-clear, and PM1_EN), the PM1a control block (SCI_EN, SLP_TYP, SLP_EN), the
 * power management timer (§4.8.3.3: 3.579545 MHz, 32 bits, TMR_STS when bit 31 changes), and an
 * 8-bit reset register (§4.8.3.6) that the FADT points at. The SCI (IRQ 9, level) is asserted
 * while SCI_EN is set and an enabled event's status bit is set.
 *
 * The timer follows the host clock (now - start), so reading it is exact and costs nothing; a
 * host timer runs only while TMR_EN is set, to raise the SCI at the next bit-31 transition.
 * There is no SMI_CMD port: the block is in ACPI mode from reset (SCI_EN reads 1), which the FADT
 * says by leaving SMI_CMD zero (§5.2.9). Entering S5 calls the power-off callback; SLP_EN with
 * other sleep types is ignored (the DSDT declares only \_S5). Not modelled: PM1b, PM2, GPE
 * blocks, bus-master and global-lock status (they read as 0), the sleep button and RTC alarm
 * wake (the FADT says they are absent).
 */
#include <string.h>

#include "dev/acpi_pm.h"

#define STS_W1C_MASK \
	(PM1_TMR_STS | PM1_BM_STS | PM1_GBL_STS | PM1_PWRBTN_STS | PM1_SLPBTN_STS | PM1_RTC_STS | \
	 PM1_PCIEXP_WAKE_STS | PM1_WAK_STS)
#define EN_MASK (PM1_TMR_EN | PM1_GBL_EN | PM1_PWRBTN_EN | PM1_SLPBTN_EN | PM1_RTC_EN | PM1_PCIEXP_WAKE_DIS)
/* Status bits that raise the SCI when their enable bit is set (PCIEXP_WAKE_DIS is a disable). */
#define SCI_EVENTS (PM1_TMR_STS | PM1_GBL_STS | PM1_PWRBTN_STS | PM1_SLPBTN_STS | PM1_RTC_STS)
/* Control bits that read back (SLP_EN and GBL_RLS are write-only). */
#define CNT_RW_MASK (PM1_SCI_EN | PM1_BM_RLD | PM1_SLP_TYP_MASK)

static uint64_t timer_ticks(const struct acpi_pm *pm, uint64_t now)
{
	if (now <= pm->tmr_start_ns)
		return 0;
	return (uint64_t)(((unsigned __int128)(now - pm->tmr_start_ns) * ACPI_PM_TIMER_FREQ) / 1000000000u);
}

/* Host time at which the timer reaches ticks (rounded up, so the count is there by then). */
static uint64_t ticks_to_ns(const struct acpi_pm *pm, uint64_t ticks)
{
	return pm->tmr_start_ns +
	       (uint64_t)(((unsigned __int128)ticks * 1000000000u + ACPI_PM_TIMER_FREQ - 1) / ACPI_PM_TIMER_FREQ);
}

uint32_t acpi_pm_timer_value(struct acpi_pm *pm)
{
	return (uint32_t)timer_ticks(pm, pm->now());
}

/* TMR_STS is set each time bit 31 of the counter changes (§4.8.3.3). */
static void update_timer_status(struct acpi_pm *pm, uint64_t now)
{
	uint64_t msb = timer_ticks(pm, now) >> 31;
	if (msb != pm->tmr_msb_seen) {
		pm->tmr_msb_seen = msb;
		pm->sts |= PM1_TMR_STS;
	}
}

static void update_sci(struct acpi_pm *pm)
{
	int level = (pm->cnt & PM1_SCI_EN) && (pm->sts & pm->en & SCI_EVENTS);
	if (level != pm->sci_level) {
		pm->sci_level = level;
		irq_set(&pm->sci, level);
	}
}

static void arm_timer(struct acpi_pm *pm, uint64_t now)
{
	if (!pm->timers)
		return;
	if (!(pm->en & PM1_TMR_EN)) {
		timer_del(pm->timers, &pm->timer);
		return;
	}
	uint64_t next = ((timer_ticks(pm, now) >> 31) + 1) << 31;
	timer_mod(pm->timers, &pm->timer, ticks_to_ns(pm, next));
}

static void timer_fired(void *opaque)
{
	struct acpi_pm *pm = opaque;
	uint64_t now = pm->now();
	update_timer_status(pm, now);
	update_sci(pm);
	arm_timer(pm, now);
}

static uint8_t read_byte(struct acpi_pm *pm, unsigned off, uint32_t tmr)
{
	uint16_t cnt = pm->cnt & CNT_RW_MASK;
	switch (off) {
	case 0: return (uint8_t)pm->sts;
	case 1: return (uint8_t)(pm->sts >> 8);
	case 2: return (uint8_t)pm->en;
	case 3: return (uint8_t)(pm->en >> 8);
	case 4: return (uint8_t)cnt;
	case 5: return (uint8_t)(cnt >> 8);
	case 8: case 9: case 10: case 11: return (uint8_t)(tmr >> (8 * (off - 8)));
	default: return 0; /* reserved, and the write-only reset register */
	}
}

static uint64_t acpi_pm_read(void *dev, uint64_t off, unsigned size)
{
	struct acpi_pm *pm = dev;
	uint64_t now = pm->now();
	update_timer_status(pm, now);
	update_sci(pm);
	uint32_t tmr = (uint32_t)timer_ticks(pm, now);
	uint64_t v = 0;
	for (unsigned k = 0; k < size && k < 8; k++) {
		uint64_t b = off + k < ACPI_PM_LEN ? read_byte(pm, (unsigned)(off + k), tmr) : 0xff;
		v |= b << (8 * k);
	}
	return v;
}

static void enter_sleep(struct acpi_pm *pm)
{
	unsigned typ = (pm->cnt & PM1_SLP_TYP_MASK) >> PM1_SLP_TYP_SHIFT;
	if (typ == ACPI_PM_SLP_TYP_S5 && pm->cb.poweroff)
		pm->cb.poweroff(pm->cb.opaque);
}

static void write_byte(struct acpi_pm *pm, unsigned off, uint8_t b, uint64_t now)
{
	switch (off) {
	case 0:
	case 1:
		update_timer_status(pm, now); /* a transition before the write is acknowledged by it */
		pm->sts &= (uint16_t)~(((uint16_t)b << (8 * off)) & STS_W1C_MASK);
		break;
	case 2:
		pm->en = (uint16_t)(((pm->en & 0xff00) | b) & EN_MASK);
		break;
	case 3:
		pm->en = (uint16_t)(((pm->en & 0x00ff) | (b << 8)) & EN_MASK);
		break;
	case 4:
		pm->cnt = (uint16_t)(((pm->cnt & 0xff00) | b) & CNT_RW_MASK);
		break;
	case 5:
		/* SLP_TYP and SLP_EN share this byte: the type written with SLP_EN is the one entered */
		pm->cnt = (uint16_t)(((pm->cnt & 0x00ff) | (b << 8)) & CNT_RW_MASK);
		if ((b << 8) & PM1_SLP_EN)
			enter_sleep(pm);
		break;
	case ACPI_PM_RESET_OFF:
		if (b == ACPI_PM_RESET_VALUE && pm->cb.reset)
			pm->cb.reset(pm->cb.opaque);
		break;
	default: break; /* the timer is read-only; reserved bytes ignore writes */
	}
}

static void acpi_pm_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct acpi_pm *pm = dev;
	uint64_t now = pm->now();
	for (unsigned k = 0; k < size && k < 8 && off + k < ACPI_PM_LEN; k++)
		write_byte(pm, (unsigned)(off + k), (uint8_t)(val >> (8 * k)), now);
	update_sci(pm);
	arm_timer(pm, now);
}

static const struct io_ops acpi_pm_ops = { acpi_pm_read, acpi_pm_write };

void acpi_pm_reset(struct acpi_pm *pm)
{
	pm->sts = 0;
	pm->en = 0;
	pm->cnt = PM1_SCI_EN; /* no SMI_CMD: always in ACPI mode */
	pm->tmr_start_ns = pm->now();
	pm->tmr_msb_seen = 0;
	if (pm->timers)
		timer_del(pm->timers, &pm->timer);
	update_sci(pm);
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
	pm->sts |= PM1_PWRBTN_STS;
	update_sci(pm);
}

int acpi_pm_init(struct acpi_pm *pm, struct iobus *pio, uint16_t base, struct timer_list *timers, struct irq sci,
		 uint64_t (*now)(void), const struct acpi_pm_callbacks *cb)
{
	memset(pm, 0, sizeof(*pm));
	pm->sci = sci;
	pm->timers = timers;
	pm->now = now;
	if (cb)
		pm->cb = *cb;
	timer_init(&pm->timer, timer_fired, pm);
	acpi_pm_reset(pm);
	return iobus_register(pio, base, ACPI_PM_LEN, &acpi_pm_ops, pm, "acpi-pm");
}
