/* Tile numbers (all tiles live at 0x8000, shared by BG, window and sprites). */
#ifndef HOPLAND_TILES_H
#define HOPLAND_TILES_H

#include <stdint.h>

#define T_SKY        0
#define T_TOP        1  /* grass top; +1 left edge, +2 right edge, +3 both */
#define T_DIRT       5  /* dirt body; same edge offsets */
#define T_POLE       9
#define T_POLE_TOP   10
#define T_FLAG       11 /* flag cloth on the pole */
#define T_FLAG_TIP   12 /* flag tip, one column right of the pole */
#define T_CLOUD_L    13
#define T_CLOUD_R    14
#define T_HUD_HEART  15 /* HUD tiles are white on black */
#define T_HUD_FULL   16
#define T_HUD_EMPTY  17
#define T_HUD_BLANK  18
#define T_BLOCK      19 /* title-screen brick */
#define S_HEAD       20 /* sprites: player head (faces right) */
#define S_STAND      21
#define S_WALK1      22
#define S_WALK2      23
#define S_JUMP       24
#define S_HEAD_DEAD  25
#define S_ENEMY1     26
#define S_ENEMY2     27
#define S_SQUASHED   28
#define N_GFX_TILES  29

#define FONT_FIRST   32 /* black-on-white font: tile = ASCII code (32..95) */
#define HUD_FONT     96 /* white-on-black font: tile = ASCII code + 96 */
#define HUD_CHAR(c)  ((uint8_t)((uint8_t)(c) + (uint8_t)HUD_FONT))

extern const uint8_t gfx_tiles[N_GFX_TILES * 16];
extern const uint8_t font_1bpp[64 * 8];

#endif
