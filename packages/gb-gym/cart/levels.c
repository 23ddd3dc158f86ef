/* Hopland levels.
 *
 * Each string is the ground height, in tiles, of consecutive 8-px columns
 * ('0' = pit). The ground normally sits at height 2. A step or wall is a rise
 * in height (the player cannot walk up even one tile: it must jump). The
 * comment on each line gives the first column of that piece.
 * Enemy spawn columns must sit on flat ground at least two columns wide
 * on each side (enemies patrol only on ground of their own height).
 */
#include "levels.h"

/* Level 1, easy: steps of 1-2 tiles, gaps of 1-2 tiles, 3 slow walkers. */
static const char l1_cols[] =
    "2222222222222222"         /*   0 flat start */
    "22223333332222"           /*  16 step up 1 */
    "22222222222222"           /*  30 enemy */
    "2200222222"               /*  44 gap 2 */
    "22224444442222"           /*  54 step up 2 */
    "222222222222"             /*  68 enemy */
    "2220222"                  /*  80 gap 1 */
    "2223333444433332222"      /*  87 stairs up and down */
    "2222222222222"            /* 106 enemy */
    "222200222"                /* 119 gap 2 */
    "222222222222222222222222";/* 128 goal (pole at 144) */
static const uint8_t l1_enemies[] = {36, 73, 112, 0xFF};

/* Level 2, medium: walls of 3, gaps of 3, 7 walkers. */
static const char l2_cols[] =
    "22222222222222"           /*   0 flat start */
    "222555222"                /*  14 wall 3 */
    "22222222222222"           /*  23 enemy */
    "2220002222"               /*  37 gap 3 */
    "2222222222222222"         /*  47 two enemies */
    "33334444"                 /*  63 stairs up */
    "4444440004444"            /*  71 gap 3, high */
    "4444222222"               /*  84 step down 2 */
    "2222225552222"            /*  94 wall 3 */
    "222222222222"             /* 107 enemy */
    "222000333333"             /* 119 gap 3 onto a step */
    "3333333333"               /* 131 enemy, high */
    "3332222"                  /* 141 step down */
    "22255522255522"           /* 148 double wall 3, enemy between */
    "2222222200022222222"      /* 162 gap 3, enemy after */
    "2222222222222222222222";  /* 181 goal (pole at 195) */
static const uint8_t l2_enemies[] = {29, 50, 58, 112, 135, 165, 185, 0xFF};

/* Level 3, hard: walls of 4 and gaps of 5-6 (running jumps), 7 fast walkers. */
static const char l3_cols[] =
    "2222222222222222"         /*   0 flat start */
    "22222266666222222"        /*  16 wall 4 */
    "22222222000002222222"     /*  33 gap 5 */
    "22222222222222"           /*  53 two enemies */
    "2222226666662222222"      /*  67 wall 4 */
    "222222200000022222222"    /*  86 gap 6 */
    "33333333"                 /* 107 step up 1 */
    "3333300000333333"         /* 115 gap 5, high */
    "3332222"                  /* 131 step down */
    "2222222222222222"         /* 138 two enemies */
    "22222666662222222"        /* 154 wall 4 */
    "222222200000022222222"    /* 171 gap 6 */
    "2222222222"               /* 192 enemy */
    "22222200000222222"        /* 202 gap 5 */
    "22222222222222222222";    /* 219 goal (pole at 231) */
static const uint8_t l3_enemies[] = {55, 63, 128, 143, 151, 188, 198, 0xFF};

/* Level 4, mixed (held out): the same pieces in a new order, medium-hard. */
static const char l4_cols[] =
    "222222222222222"          /*   0 flat start */
    "2220002222222"            /*  15 gap 3 */
    "33334444222222222"        /*  28 stairs, then a run-up */
    "666662222222"             /*  45 wall 4 */
    "22222222222"              /*  57 enemy */
    "2222000022222222"         /*  68 gap 4 */
    "2225552222"               /*  84 wall 3 */
    "3333333333333333"         /*  94 two enemies on a plateau */
    "3333000003333333"         /* 110 gap 5 */
    "2222222222222"            /* 126 step down, enemy */
    "220022555222222"          /* 139 gap 2 then wall 3 */
    "2222222222222"            /* 154 enemy */
    "22222000000222222"        /* 167 gap 6 */
    "2222222222222222222222";  /* 184 goal (pole at 198) */
static const uint8_t l4_enemies[] = {61, 98, 105, 130, 158, 0xFF};

#define N_COLS(a) ((uint8_t)(sizeof(a) - 1))

const Level levels[N_LEVELS] = {
    {l1_cols, N_COLS(l1_cols), N_COLS(l1_cols) - 8, l1_enemies, 6, "EASY"},
    {l2_cols, N_COLS(l2_cols), N_COLS(l2_cols) - 8, l2_enemies, 8, "MEDIUM"},
    {l3_cols, N_COLS(l3_cols), N_COLS(l3_cols) - 8, l3_enemies, 11, "HARD"},
    {l4_cols, N_COLS(l4_cols), N_COLS(l4_cols) - 8, l4_enemies, 10, "MIXED"},
};
