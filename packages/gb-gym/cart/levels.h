/* Level data: a height map plus an enemy spawn list per level. */
#ifndef HOPLAND_LEVELS_H
#define HOPLAND_LEVELS_H

#include <stdint.h>

#define N_LEVELS 4
#define MAX_COLS 240 /* columns are indexed with a uint8_t, plus 16 look-ahead */

typedef struct {
    const char *cols;        /* one char per 8-px column: '0' pit, '1'..'8' ground height in tiles */
    uint8_t n_cols;
    uint8_t pole_col;        /* column of the goal pole */
    const uint8_t *enemies;  /* spawn columns, ascending, 0xFF-terminated */
    uint8_t enemy_speed;     /* base walker speed in 1/16 px per frame (+0..3 from the RNG) */
    const char *label;       /* difficulty word shown on the title screen */
} Level;

extern const Level levels[N_LEVELS];

#endif
