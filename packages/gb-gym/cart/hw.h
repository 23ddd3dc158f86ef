/* Game Boy (DMG) hardware registers and constants used by Hopland. */
#ifndef HOPLAND_HW_H
#define HOPLAND_HW_H

#include <stdint.h>

#define REG(addr) (*(volatile uint8_t *)(addr))

#define rP1   REG(0xFF00) /* joypad */
#define rIF   REG(0xFF0F) /* interrupt flags */
#define rNR52 REG(0xFF26) /* sound on/off */
#define rLCDC REG(0xFF40)
#define rSTAT REG(0xFF41)
#define rSCY  REG(0xFF42)
#define rSCX  REG(0xFF43)
#define rLY   REG(0xFF44)
#define rBGP  REG(0xFF47)
#define rOBP0 REG(0xFF48)
#define rOBP1 REG(0xFF49)
#define rWY   REG(0xFF4A)
#define rWX   REG(0xFF4B)
#define rIE   REG(0xFFFF)

/* LCDC bits */
#define LCDC_ON        0x80
#define LCDC_WIN_9C00  0x40
#define LCDC_WIN_ON    0x20
#define LCDC_TILES_8000 0x10
#define LCDC_OBJ_ON    0x02
#define LCDC_BG_ON     0x01

#define VRAM_TILES ((uint8_t *)0x8000)
#define VRAM_BG    ((uint8_t *)0x9800) /* 32x32 background map */
#define VRAM_WIN   ((uint8_t *)0x9C00) /* window map (HUD row) */
#define OAM        ((uint8_t *)0xFE00)

/* Joypad bits as returned by read_keys() */
#define K_A      0x01
#define K_B      0x02
#define K_SELECT 0x04
#define K_START  0x08
#define K_RIGHT  0x10
#define K_LEFT   0x20
#define K_UP     0x40
#define K_DOWN   0x80

#endif
