/*
 * ACPI fixed-hardware power management block (ACPI 6.5 §4.8): PM1a event (status/enable) and
 * control registers, the 32-bit power management timer, a reset register, and the SCI.
 * Entering S5 (SLP_TYP = ACPI_PM_SLP_TYP_S5 with SLP_EN) calls the power-off callback; writing
 * ACPI_PM_RESET_VALUE to the reset register calls the reset callback.
 */
#ifndef SOFTVM_DEV_ACPI_PM_H
#define SOFTVM_DEV_ACPI_PM_H
#include <stdbool.h>
#include <stdint.h>

#include "dev/irq.h"
#include "machine/iobus.h"
#include "machine/timer.h"

/* Port layout of the block (what the FADT describes). */
#define ACPI_PM_BASE 0x600
#define ACPI_PM_LEN 0x10
#define ACPI_PM1_EVT_OFF 0x0 /* PM1a_STS (2 bytes) then PM1a_EN (2 bytes) */
#define ACPI_PM1_EVT_LEN 4
#define ACPI_PM1_CNT_OFF 0x4
#define ACPI_PM1_CNT_LEN 2
#define ACPI_PM_TMR_OFF 0x8
#define ACPI_PM_TMR_LEN 4
#define ACPI_PM_RESET_OFF 0xc /* 8-bit reset register */
#define ACPI_PM_RESET_VALUE 0x06
#define ACPI_PM_SCI_IRQ 9
#define ACPI_PM_TIMER_FREQ 3579545u
/* SLP_TYP value that means soft-off (the DSDT's \_S5 package holds it). */
#define ACPI_PM_SLP_TYP_S5 5

/* PM1 status / enable bits (§4.8.3.1, tables 4.16 and 4.17). */
#define PM1_TMR_STS (1u << 0)
#define PM1_BM_STS (1u << 4)
#define PM1_GBL_STS (1u << 5)
#define PM1_PWRBTN_STS (1u << 8)
#define PM1_SLPBTN_STS (1u << 9)
#define PM1_RTC_STS (1u << 10)
#define PM1_PCIEXP_WAKE_STS (1u << 14)
#define PM1_WAK_STS (1u << 15)
#define PM1_TMR_EN (1u << 0)
#define PM1_GBL_EN (1u << 5)
#define PM1_PWRBTN_EN (1u << 8)
#define PM1_SLPBTN_EN (1u << 9)
#define PM1_RTC_EN (1u << 10)
#define PM1_PCIEXP_WAKE_DIS (1u << 14)
/* PM1 control bits (§4.8.3.2.1, table 4.18). */
#define PM1_SCI_EN (1u << 0)
#define PM1_BM_RLD (1u << 1)
#define PM1_GBL_RLS (1u << 2)
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_TYP_MASK (7u << PM1_SLP_TYP_SHIFT)
#define PM1_SLP_EN (1u << 13)

struct acpi_pm_callbacks {
	void (*poweroff)(void *opaque); /* the guest entered S5 */
	void (*reset)(void *opaque);    /* the guest wrote the reset register */
	void *opaque;
};

struct acpi_pm {
	uint16_t sts, en, cnt;
	uint64_t tmr_start_ns;   /* host time at which the timer read 0 */
	uint64_t tmr_msb_seen;   /* timer MSB transitions already reflected in TMR_STS */
	int sci_level;
	struct irq sci;
	struct timer timer;      /* fires at the next MSB transition while TMR_EN is set */
	struct timer_list *timers;
	uint64_t (*now)(void);   /* clock: clock_ns, or a test clock */
	struct acpi_pm_callbacks cb;
};

/* Registers the block at port base. Returns 0 or a negative errno from the bus. */
int acpi_pm_init(struct acpi_pm *pm, struct iobus *pio, uint16_t base, struct timer_list *timers, struct irq sci,
		 uint64_t (*now)(void), const struct acpi_pm_callbacks *cb);
void acpi_pm_reset(struct acpi_pm *pm);
/* The fixed-feature power button was pressed (sets PWRBTN_STS; SCI if enabled). */
void acpi_pm_power_button(struct acpi_pm *pm);
/* The timer's current 32-bit value. */
uint32_t acpi_pm_timer_value(struct acpi_pm *pm);
#endif
