/* Hopland: a small side-scrolling platformer for the Game Boy (DMG).
 *
 * Frame loop (one iteration per frame):
 *   1. halt until the v-blank interrupt;
 *   2. read the joypad (always at the start of v-blank, so a host that presses
 *      buttons between frames sees a fixed one-frame input latency);
 *   3. vblank_work() (vblank.s): sprites, scroll, the copy of the RAM-map
 *      snapshot to 0xC000, then one streamed map column or one text patch;
 *   4. snapshot(): copy the live state (0xC100) to the snapshot (0xC180);
 *   5. game logic for this frame, which updates the live state and prepares
 *      the next v-blank's work.
 * So the published RAM map always describes the frame that is on screen when
 * PyBoy's tick() returns (tick() returns at the end of v-blank).
 *
 * Units: positions in pixels with a 4-bit sub-pixel fraction; speeds in
 * 1/16 px per frame; gravity in 1/16 px per frame per frame.
 */
#include <stdint.h>
#include "hw.h"
#include "tiles.h"
#include "levels.h"

/* ---- Game states (RAM 0xC001) ------------------------------------------ */
#define ST_TITLE    0
#define ST_PLAY     1
#define ST_DYING    2
#define ST_CLEAR    3
#define ST_GAMEOVER 4
#define ST_WIN      5

/* ---- Player flags (RAM 0xC007) ----------------------------------------- */
#define F_GROUND 0x01
#define F_LEFT   0x02
#define F_RUN    0x04

/* ---- Physics (1/16 px units) -------------------------------------------- */
#define WALK_MAX      16  /* 1 px/frame */
#define RUN_MAX       30  /* 1.875 px/frame with B held */
#define WALK_ACCEL     4  /* per frame while a direction is held, up to WALK_MAX */
#define RUN_ACCEL      3  /* per frame above WALK_MAX while B is held */
#define FRICTION       1  /* per frame on the ground with no direction held */
#define TURN_DECEL     4  /* per frame on the ground when reversing */
#define AIR_DECEL      2  /* per frame in the air when pushing backwards */
#define GRAVITY        4
#define MAX_FALL      64
#define WALK_JUMP     58  /* take-off speed: peak 28 px (3.5 tiles) */
#define RUN_JUMP      68  /* take-off speed: peak 38 px (4.75 tiles) */
#define RUN_JUMP_MIN  24  /* |vx| at take-off that gives the running jump */
#define STOMP_BOUNCE  40
#define DEATH_POP     48

#define START_X       16  /* x-progress at the start of every level */
#define CAMERA_LEAD   64  /* the camera keeps the player at most this far from the left edge */
#define PLAY_ROWS     17  /* playfield rows; row 17 is covered by the HUD window */
#define GROUND_BOTTOM 136 /* y of the bottom of the playfield */

#define DYING_FRAMES    60
#define CLEAR_FRAMES    90
#define GAMEOVER_FRAMES 180
#define WIN_FRAMES      240

#define MAX_ENEMIES 4
#define K_EMPTY    0
#define K_WALKER   1
#define K_SQUASHED 2  /* harmless, disappears after SQUASH_FRAMES */
#define SQUASH_FRAMES 20

/* ---- RAM map ------------------------------------------------------------
 * 0xC000-0xC05F is what the host reads (see docs/cartridge.md). The game
 * works on a live copy at 0xC100 with the same layout; it is copied to
 * 0xC180 after each v-blank and from there to 0xC000 during the next one.
 * LEVEL (0xC002) and SEED (0xC010) belong to the host on the title screen:
 * the game reads them there directly and never copies over them.
 */
volatile __at(0xC002) uint8_t pub_level;
volatile __at(0xC010) uint16_t pub_seed;

__at(0xC100) uint8_t magic;
__at(0xC101) uint8_t state;
__at(0xC103) uint8_t lives;
__at(0xC104) uint16_t px;          /* player world x (left edge) */
__at(0xC106) uint8_t py;           /* player screen y (top of the 8x16 sprite) */
__at(0xC107) uint8_t pflags;
__at(0xC108) int8_t pvx;
__at(0xC109) int8_t pvy;
__at(0xC10A) uint16_t end_x;       /* x-progress that completes the level */
__at(0xC10C) uint16_t cam_x;
__at(0xC10E) uint8_t frame;
__at(0xC10F) uint8_t death_cause;  /* 0 none, 1 enemy, 2 pit */
__at(0xC120) uint8_t obj_table[16];/* 4 x [kind, x lo, x hi, y] */
__at(0xC130) uint8_t ahead[16];    /* ground height of the 16 columns from x/8 */
__at(0xC140) uint8_t ground_h;     /* height under the player's feet (0 = pit) */
__at(0xC141) uint8_t timer;        /* frames left in dying / clear / game over / win */
__at(0xC142) uint8_t stomps;       /* enemies stomped since the level (re)started */
__at(0xC143) uint8_t n_levels;
__at(0xC144) uint16_t rng;         /* xorshift16 state */
__at(0xC146) uint8_t overruns;     /* v-blank work that ran past v-blank (should stay 0) */
__at(0xC147) uint8_t screen_x;     /* player x on screen */
__at(0xC148) uint16_t level_px;    /* level length in px */
__at(0xC14A) int8_t obj_vx[4];     /* enemy speed per slot, 1/16 px per frame, signed */
__at(0xC14E) uint8_t ram_version;
__at(0xC14F) uint8_t subpx;        /* player sub-pixels: x in bits 0-3, y in bits 4-7 */
__at(0xC150) uint8_t obj_sub[4];   /* enemy x sub-pixels per slot (0..15) */
__at(0xC158) uint8_t behind[8];    /* ground height of the 8 columns left of x/8 */

/* Sprite attributes copied to OAM in v-blank: 6 entries (player x2, enemies x4). */
#define N_SPRITES 6
__at(0xC200) uint8_t shadow_oam[N_SPRITES * 4];

/* ---- V-blank requests (consumed by vblank.s) ----------------------------- */
volatile uint8_t vbl_flag;        /* set by the v-blank interrupt */
uint8_t scx_shadow;
uint8_t col_pending;              /* 1: copy col_buf (17 tiles) down the map column at col_dst */
uint16_t col_dst;
uint8_t col_buf[PLAY_ROWS];
uint8_t patch_len;                /* text patches: nonzero = copy the 20 bytes of patch_buf to patch_dst */
uint16_t patch_dst;
uint8_t patch_buf[20];
uint8_t patch2_len;
uint16_t patch2_dst;
uint8_t patch2_buf[20];

void vblank_work(void);           /* vblank.s */
void snapshot(void);              /* vblank.s */

/* ---- Game variables (not published) -------------------------------------- */
static uint8_t keys, pressed;
static uint8_t heights[256];      /* level height map, padded with the last column */
static const Level *lvl;
static uint8_t n_cols, pole_col;
static uint16_t cam_max;
static uint8_t next_col;          /* next world column to stream into the map */
static uint8_t px_sub, py_sub;
static uint8_t spawn_idx;
static uint8_t e_kind[MAX_ENEMIES];
static uint16_t e_x[MAX_ENEMIES];
static uint8_t e_sub[MAX_ENEMIES];
static uint8_t e_y[MAX_ENEMIES];
static uint8_t e_h[MAX_ENEMIES];
static int8_t e_vx[MAX_ENEMIES];
static uint8_t e_timer[MAX_ENEMIES];
static uint8_t prog_cells;        /* HUD progress bar */
static uint16_t prog_next, prog_step;
static uint8_t hud_dirty;
static uint8_t clear_base_y;
static uint8_t title_shown;       /* level shown on the title screen (0xFF: none yet) */

/* ======================================================================== */
/* Small helpers                                                             */
/* ======================================================================== */

static void wait_vblank(void)
{
    vbl_flag = 0;
    while (!vbl_flag) {
        __asm__("halt");
    }
}

static void lcd_off(void)
{
    if (!(rLCDC & LCDC_ON))
        return;
    while (rLY < 144)
        ; /* the LCD may only be switched off during v-blank */
    rLCDC &= (uint8_t)~LCDC_ON;
}

static void lcd_on(uint8_t lcdc)
{
    rLCDC = lcdc | LCDC_ON;
}

static void read_keys(void)
{
    uint8_t d, b, old = keys;
    rP1 = 0x20; /* select the direction keys */
    d = rP1;
    d = rP1;
    rP1 = 0x10; /* select the buttons */
    b = rP1;
    b = rP1;
    b = rP1;
    rP1 = 0x30;
    keys = (uint8_t)((uint8_t)(~d & 0x0F) << 4) | (uint8_t)(~b & 0x0F);
    pressed = keys & (uint8_t)~old;
}

/* xorshift16 (7, 9, 8); never zero. */
static uint8_t rng_next(void)
{
    uint16_t r = rng;
    r ^= r << 7;
    r ^= r >> 9;
    r ^= r << 8;
    rng = r;
    return (uint8_t)r;
}

static void vram_fill(uint8_t *dst, uint8_t value, uint16_t n)
{
    while (n--)
        *dst++ = value;
}

static void vram_copy(uint8_t *dst, const uint8_t *src, uint16_t n)
{
    while (n--)
        *dst++ = *src++;
}

/* Write a 0-terminated string to the BG map (LCD off only). */
static void draw_text(uint8_t x, uint8_t y, const char *s)
{
    uint8_t *dst = VRAM_BG + ((uint16_t)y << 5) + x;
    while (*s)
        *dst++ = (uint8_t)*s++;
}

/* Fill buf[0..19] with s centred on a 20-tile row, tile offset `base`. */
static void center_text(uint8_t *buf, const char *s, uint8_t base)
{
    uint8_t n = 0, i, x;
    while (s[n])
        n++;
    for (i = 0; i < 20; i++)
        buf[i] = ' ' + base;
    x = (uint8_t)((20 - n) >> 1);
    for (i = 0; i < n; i++)
        buf[x + i] = (uint8_t)s[i] + base;
}

static void hide_sprites(void)
{
    uint8_t i;
    for (i = 0; i < N_SPRITES * 4; i++)
        shadow_oam[i] = 0;
}

static void set_sprite(uint8_t n, uint8_t y, uint8_t x, uint8_t tile, uint8_t attr)
{
    uint8_t *s = shadow_oam + (n << 2);
    s[0] = y + 16;
    s[1] = x + 8;
    s[2] = tile;
    s[3] = attr;
}

/* ======================================================================== */
/* Terrain                                                                   */
/* ======================================================================== */

/* Screen y of the ground surface of a column; 0xFF for a pit. */
static uint8_t ground_top(uint8_t col)
{
    uint8_t h = heights[col];
    return h ? (uint8_t)(GROUND_BOTTOM - (h << 3)) : 0xFF;
}

/* Tiles of one world column (rows 0..16) into col_buf. */
static void make_column(uint8_t c)
{
    uint8_t h = heights[c];
    uint8_t top = PLAY_ROWS - h;
    uint8_t top_l = PLAY_ROWS - (c ? heights[c - 1] : h);
    uint8_t top_r = PLAY_ROWS - heights[(uint8_t)(c + 1)];
    uint8_t row, t;

    for (row = 0; row < PLAY_ROWS; row++) {
        if (row < top) {
            t = T_SKY;
        } else {
            t = (row == top) ? T_TOP : T_DIRT;
            if (row < top_l)
                t += 1; /* left neighbour is lower here: draw the edge */
            if (row < top_r)
                t += 2;
        }
        col_buf[row] = t;
    }
    if (c == pole_col) {
        for (row = top - 6; row < top; row++)
            col_buf[row] = T_POLE;
        col_buf[top - 7] = T_FLAG;
        col_buf[top - 8] = T_POLE_TOP;
    } else if (c == pole_col + 1) {
        col_buf[top - 7] = T_FLAG_TIP;
    } else if ((uint8_t)(c + 2) < pole_col || c > pole_col + 2) {
        /* a few clouds for decoration, high up where nothing happens */
        switch (c & 15) {
        case 3: col_buf[2] = T_CLOUD_L; break;
        case 4: col_buf[2] = T_CLOUD_R; break;
        case 10: col_buf[4] = T_CLOUD_L; break;
        case 11: col_buf[4] = T_CLOUD_R; break;
        }
    }
}

/* Straight to VRAM with the LCD off. */
static void draw_column_now(uint8_t c)
{
    uint8_t *dst = VRAM_BG + (c & 31);
    uint8_t row;
    make_column(c);
    for (row = 0; row < PLAY_ROWS; row++) {
        *dst = col_buf[row];
        dst += 32;
    }
}

/* ======================================================================== */
/* HUD (window row at the bottom, white on black)                            */
/* ======================================================================== */

#define HUD_CELLS 9

static void hud_build(uint8_t *buf)
{
    static const char lv[] = "LEVEL ";
    uint8_t i;
    for (i = 0; i < 6; i++)
        buf[i] = HUD_CHAR(lv[i]);
    buf[6] = HUD_CHAR('1' + pub_level);
    buf[7] = HUD_CHAR(' ');
    buf[8] = T_HUD_HEART;
    buf[9] = HUD_CHAR('0' + lives);
    buf[10] = HUD_CHAR(' ');
    if (state == ST_CLEAR) {
        static const char msg[] = " CLEAR!  ";
        for (i = 0; i < HUD_CELLS; i++)
            buf[11 + i] = HUD_CHAR(msg[i]);
    } else {
        for (i = 0; i < HUD_CELLS; i++)
            buf[11 + i] = i < prog_cells ? T_HUD_FULL : T_HUD_EMPTY;
    }
}

/* Ask the next v-blank to redraw the HUD row. */
static void hud_request(void)
{
    hud_build(patch_buf);
    patch_dst = (uint16_t)VRAM_WIN;
    patch_len = 20;
    hud_dirty = 0;
}

/* ======================================================================== */
/* Sprites                                                                   */
/* ======================================================================== */

/* Hide sprite rows that would overlap the HUD (y >= 136). */
#define VISIBLE_Y(y) ((y) < 129)

static void build_oam(void)
{
    uint8_t i, head, body, attr, sx, n;
    uint16_t d;

    hide_sprites();
    if (state == ST_TITLE || state == ST_GAMEOVER || state == ST_WIN)
        return;

    /* player */
    d = px - cam_x;
    sx = (uint8_t)d;
    attr = (pflags & F_LEFT) ? 0x20 : 0x00;
    head = S_HEAD;
    if (state == ST_DYING) {
        head = S_HEAD_DEAD;
        body = S_JUMP;
    } else if (!(pflags & F_GROUND)) {
        body = S_JUMP;
    } else if (pvx) {
        body = ((uint8_t)px & 4) ? S_WALK1 : S_WALK2;
    } else {
        body = S_STAND;
    }
    if (py < 200) { /* py >= 200 means off the top or far below: hide */
        if (VISIBLE_Y(py))
            set_sprite(0, py, sx, head, attr);
        if (VISIBLE_Y((uint8_t)(py + 8)))
            set_sprite(1, py + 8, sx, body, attr);
    }

    /* enemies */
    n = 2;
    for (i = 0; i < MAX_ENEMIES; i++, n++) {
        if (e_kind[i] == K_EMPTY)
            continue;
        d = e_x[i] + 8 - cam_x; /* OAM x; off screen if outside 1..167 */
        if (d == 0 || d >= 168)
            continue;
        if (e_kind[i] == K_SQUASHED) {
            body = S_SQUASHED;
            attr = 0;
        } else {
            body = (frame & 8) ? S_ENEMY1 : S_ENEMY2;
            attr = e_vx[i] < 0 ? 0x20 : 0x00;
        }
        set_sprite(n, e_y[i], (uint8_t)d - 8, body, attr);
    }
}

/* ======================================================================== */
/* Published helper fields                                                   */
/* ======================================================================== */

static void update_published(void)
{
    uint8_t i, c = (uint8_t)(px >> 3);
    uint8_t hl = heights[(uint8_t)((px + 1) >> 3)];
    uint8_t hr = heights[(uint8_t)((px + 6) >> 3)];
    uint8_t *o = obj_table;

    for (i = 0; i < 16; i++)
        ahead[i] = heights[(uint8_t)(c + i)];
    for (i = 0; i < 8; i++)
        behind[i] = c + i >= 8 ? heights[(uint8_t)(c + i - 8)] : heights[0];
    ground_h = hl > hr ? hl : hr;
    screen_x = (uint8_t)(px - cam_x);
    subpx = px_sub | (uint8_t)(py_sub << 4);
    pflags = (pflags & (uint8_t)~F_RUN) | ((keys & K_B) ? F_RUN : 0);
    for (i = 0; i < MAX_ENEMIES; i++) {
        o[0] = e_kind[i];
        o[1] = (uint8_t)e_x[i];
        o[2] = (uint8_t)(e_x[i] >> 8);
        o[3] = e_y[i];
        obj_vx[i] = e_kind[i] == K_WALKER ? e_vx[i] : 0;
        obj_sub[i] = e_sub[i];
        o += 4;
    }
}

/* ======================================================================== */
/* Screens                                                                   */
/* ======================================================================== */

static void clear_bg(void)
{
    vram_fill(VRAM_BG, T_SKY, 32 * 32);
}

static void enter_title(void)
{
    uint8_t i;
    lcd_off();
    clear_bg();
    for (i = 3; i < 17; i++) {
        VRAM_BG[(1 << 5) + i] = T_BLOCK;
        VRAM_BG[(5 << 5) + i] = T_BLOCK;
    }
    draw_text(4, 3, "H O P L A N D");
    draw_text(4, 10, "PRESS  START");
    draw_text(3, 12, "UP/DOWN: LEVEL");
    for (i = 0; i < 20; i++) {
        VRAM_BG[(16 << 5) + i] = T_TOP;
        VRAM_BG[(17 << 5) + i] = T_DIRT;
    }
    VRAM_BG[(2 << 5) + 1] = T_CLOUD_L;
    VRAM_BG[(2 << 5) + 2] = T_CLOUD_R;
    state = ST_TITLE;
    lives = 3;
    timer = 0;
    title_shown = 0xFF;
    patch_len = 0;
    patch2_len = 0;
    col_pending = 0;
    scx_shadow = 0;
    cam_x = 0;
    hide_sprites();
    lcd_on(LCDC_TILES_8000 | LCDC_OBJ_ON | LCDC_BG_ON);
}

static void enter_end_screen(uint8_t st, const char *line1, uint8_t frames)
{
    lcd_off();
    clear_bg();
    draw_text((uint8_t)((20 - 9) >> 1), 6, line1);
    draw_text(4, 10, "PRESS START");
    state = st;
    timer = frames;
    patch_len = 0;
    patch2_len = 0;
    col_pending = 0;
    scx_shadow = 0;
    hide_sprites();
    lcd_on(LCDC_TILES_8000 | LCDC_OBJ_ON | LCDC_BG_ON);
}

/* ======================================================================== */
/* Level start / restart                                                     */
/* ======================================================================== */

static const uint16_t level_salt[N_LEVELS] = {0x1D3B, 0x5A17, 0x9C4D, 0xE2A9};

/* fresh: a new level (reseed the RNG from SEED); otherwise a restart after
 * losing a life (the RNG stream continues, so the next try differs). */
static void start_level(uint8_t fresh)
{
    uint8_t i, c, h;
    uint8_t lv = pub_level;

    if (lv >= N_LEVELS)
        lv = N_LEVELS - 1;
    pub_level = lv;
    lvl = &levels[lv];
    if (fresh) {
        rng = pub_seed ^ level_salt[lv];
        if (rng == 0)
            rng = 0xACE1;
        for (i = 0; i < 4; i++)
            rng_next();
    }

    lcd_off();

    n_cols = lvl->n_cols;
    pole_col = lvl->pole_col;
    for (i = 0; i < n_cols; i++)
        heights[i] = (uint8_t)(lvl->cols[i] - '0');
    h = heights[n_cols - 1];
    for (c = n_cols; c != 0; c++)
        heights[c] = h; /* pad to 255 so look-ahead never leaves the level */
    level_px = (uint16_t)n_cols << 3;
    end_x = ((uint16_t)pole_col << 3) - 4;
    cam_max = level_px - 160;

    /* player */
    px = START_X;
    px_sub = 0;
    py = ground_top(START_X >> 3) - 16;
    py_sub = 0;
    pvx = 0;
    pvy = 0;
    pflags = F_GROUND;
    cam_x = 0;
    scx_shadow = 0;

    /* enemies */
    for (i = 0; i < MAX_ENEMIES; i++)
        e_kind[i] = K_EMPTY;
    spawn_idx = 0;
    stomps = 0;

    /* map: the first 22 columns, the rest are streamed while scrolling */
    clear_bg();
    for (c = 0; c < 22; c++)
        draw_column_now(c);
    next_col = 22;
    col_pending = 0;
    patch2_len = 0;

    prog_cells = 0;
    prog_step = end_x / HUD_CELLS;
    prog_next = prog_step;

    state = ST_PLAY;
    timer = 0;
    hud_build(patch_buf);
    vram_copy(VRAM_WIN, patch_buf, 20);
    patch_len = 0;
    hud_dirty = 0;

    update_published();
    build_oam();
    lcd_on(LCDC_WIN_9C00 | LCDC_WIN_ON | LCDC_TILES_8000 | LCDC_OBJ_ON | LCDC_BG_ON);
}

static void new_game(void)
{
    lives = 3;
    death_cause = 0;
    start_level(1);
}

/* ======================================================================== */
/* Player                                                                    */
/* ======================================================================== */

static void kill_player(uint8_t cause)
{
    lives--;
    death_cause = cause;
    state = ST_DYING;
    timer = DYING_FRAMES;
    pvx = 0;
    pvy = 0;
    hud_dirty = 1;
}

static void player_speed(void)
{
    int8_t dir = 0;
    uint8_t target = (keys & K_B) ? RUN_MAX : WALK_MAX;
    uint8_t speed;

    if (keys & K_RIGHT)
        dir = 1;
    else if (keys & K_LEFT)
        dir = -1;
    if (dir > 0)
        pflags &= (uint8_t)~F_LEFT;
    else if (dir < 0)
        pflags |= F_LEFT;

    if (dir == 0) {
        /* friction on the ground only: in the air the speed is kept */
        if (pflags & F_GROUND) {
            if (pvx > 0)
                pvx -= FRICTION;
            else if (pvx < 0)
                pvx += FRICTION;
        }
        return;
    }
    if ((dir > 0 && pvx < 0) || (dir < 0 && pvx > 0)) {
        /* pushing against the motion */
        int8_t dec = (pflags & F_GROUND) ? TURN_DECEL : AIR_DECEL;
        pvx += dir > 0 ? dec : -dec;
        return;
    }
    speed = (uint8_t)(pvx < 0 ? -pvx : pvx);
    if (speed < target) {
        speed += speed < WALK_MAX ? WALK_ACCEL : RUN_ACCEL;
        if (speed > target)
            speed = target;
    } else if (speed > target && (pflags & F_GROUND)) {
        /* B released on the ground: slow down gently to walking speed;
         * in the air the take-off speed is kept */
        speed -= FRICTION;
    }
    pvx = dir > 0 ? (int8_t)speed : -(int8_t)speed;
}

static void player_move_x(void)
{
    int8_t t = (int8_t)(px_sub + pvx);
    int8_t dx = t >> 4;
    uint8_t feet = py + 16;
    uint8_t lead;
    uint16_t nx;

    px_sub = (uint8_t)t & 15;
    if (dx == 0)
        return;
    if (dx > 0) {
        nx = px + dx;
        if (nx > level_px - 8)
            nx = level_px - 8;
        lead = (uint8_t)((nx + 6) >> 3);
        if (ground_top(lead) < feet) {
            /* a wall: stop at it. In the air the speed is kept, so a jump
             * that rises above the wall top carries on over it. */
            nx = ((uint16_t)lead << 3) - 7;
            px_sub = 0;
            if (pflags & F_GROUND)
                pvx = 0;
        }
    } else {
        if (px < cam_x + (uint8_t)(-dx)) {
            nx = cam_x; /* the camera never scrolls back */
            pvx = 0;
            px_sub = 0;
        } else {
            nx = px + dx;
        }
        lead = (uint8_t)((nx + 1) >> 3);
        if (ground_top(lead) < feet) {
            nx = ((uint16_t)lead << 3) + 7;
            px_sub = 15;
            if (pflags & F_GROUND)
                pvx = 0;
        }
    }
    px = nx;
}

static void player_move_y(void)
{
    uint8_t tl = ground_top((uint8_t)((px + 1) >> 3));
    uint8_t tr = ground_top((uint8_t)((px + 6) >> 3));
    uint8_t top = tl < tr ? tl : tr; /* highest surface under the feet */
    uint8_t old_feet, feet;
    int8_t t, dy, vy_before;

    if (pflags & F_GROUND) {
        if ((uint8_t)(py + 16) == top)
            return;
        pflags &= (uint8_t)~F_GROUND; /* walked off an edge */
        pvy = 0;
        py_sub = 0;
    }
    vy_before = pvy;
    t = (int8_t)(py_sub + pvy);
    dy = t >> 4;
    py_sub = (uint8_t)t & 15;
    old_feet = py + 16;
    py += dy;
    feet = py + 16;
    if (pvy < MAX_FALL - GRAVITY)
        pvy += GRAVITY;
    else
        pvy = MAX_FALL;

    if (vy_before >= 0 && old_feet <= top && feet >= top && top != 0xFF) {
        py = top - 16;
        py_sub = 0;
        pvy = 0;
        pflags |= F_GROUND;
    }
    if (py > 128 && py < 200)
        kill_player(2); /* fell into a pit: feet are below the screen */
}

static void player_update(void)
{
    player_speed();
    if ((pflags & F_GROUND) && (pressed & K_A)) {
        uint8_t speed = (uint8_t)(pvx < 0 ? -pvx : pvx);
        pvy = speed >= RUN_JUMP_MIN ? -RUN_JUMP : -WALK_JUMP;
        pflags &= (uint8_t)~F_GROUND;
        py_sub = 0;
    }
    player_move_x();
    player_move_y();
}

/* ======================================================================== */
/* Camera and map streaming                                                  */
/* ======================================================================== */

static void camera_update(void)
{
    if (px > cam_x + CAMERA_LEAD) {
        uint16_t c = px - CAMERA_LEAD;
        cam_x = c < cam_max ? c : cam_max;
    }
    scx_shadow = (uint8_t)cam_x;
    /* keep the map one column ahead of the right screen edge */
    if (next_col <= (uint8_t)((uint8_t)(cam_x >> 3) + 21) && next_col != 0) {
        make_column(next_col);
        col_dst = (uint16_t)VRAM_BG + (next_col & 31);
        col_pending = 1;
        next_col++;
    }
}

/* ======================================================================== */
/* Enemies                                                                   */
/* ======================================================================== */

static void spawn_enemies(void)
{
    uint8_t col, i, r, speed;
    for (;;) {
        col = lvl->enemies[spawn_idx];
        if (col == 0xFF || ((uint16_t)col << 3) >= cam_x + 168)
            return;
        for (i = 0; i < MAX_ENEMIES && e_kind[i] != K_EMPTY; i++)
            ;
        if (i == MAX_ENEMIES)
            return; /* all slots busy: try again next frame */
        r = rng_next();
        e_kind[i] = K_WALKER;
        e_x[i] = ((uint16_t)col << 3) + (r & 3);
        e_sub[i] = 0;
        e_h[i] = heights[col];
        e_y[i] = ground_top(col) - 8;
        speed = lvl->enemy_speed + ((r >> 3) & 3);
        e_vx[i] = (r & 4) ? (int8_t)speed : -(int8_t)speed;
        e_timer[i] = 0;
        spawn_idx++;
    }
}

static void enemies_update(void)
{
    uint8_t i, lead, ey;
    int8_t t, dx;
    uint16_t nx;
    int16_t rel;

    for (i = 0; i < MAX_ENEMIES; i++) {
        if (e_kind[i] == K_EMPTY)
            continue;
        if (e_kind[i] == K_SQUASHED) {
            if (--e_timer[i] == 0)
                e_kind[i] = K_EMPTY;
            continue;
        }
        /* patrol: turn round where the ground changes height (wall or pit) */
        t = (int8_t)(e_sub[i] + e_vx[i]);
        dx = t >> 4;
        e_sub[i] = (uint8_t)t & 15;
        if (dx) {
            nx = e_x[i] + dx;
            lead = (uint8_t)(dx > 0 ? (nx + 7) >> 3 : nx >> 3);
            if (heights[lead] != e_h[i] || lead >= n_cols || nx < 8)
                e_vx[i] = -e_vx[i];
            else
                e_x[i] = nx;
        }
        if (e_x[i] + 8 <= cam_x) {
            e_kind[i] = K_EMPTY; /* left the screen on the left */
            continue;
        }
        if (state != ST_PLAY)
            continue;
        /* contact with the player: boxes x+1..x+6; player y+3..y+15, enemy y+2..y+7 */
        rel = (int16_t)(e_x[i] - px);
        if (rel < -5 || rel > 5)
            continue;
        ey = e_y[i];
        if (py > (uint8_t)(ey + 4) || ey > (uint8_t)(py + 13))
            continue;
        if (pvy > 0 && (uint8_t)(py + 16) <= (uint8_t)(ey + 6)) {
            /* landed on it from above */
            e_kind[i] = K_SQUASHED;
            e_timer[i] = SQUASH_FRAMES;
            pvy = -STOMP_BOUNCE;
            pflags &= (uint8_t)~F_GROUND;
            stomps++;
        } else {
            kill_player(1);
        }
    }
}

/* ======================================================================== */
/* States                                                                    */
/* ======================================================================== */

static void play_update(void)
{
    player_update();
    camera_update();
    spawn_enemies();
    enemies_update();
    if (state == ST_PLAY && px >= end_x) {
        state = ST_CLEAR;
        timer = CLEAR_FRAMES;
        pvx = 0;
        pvy = 0;
        clear_base_y = py;
        hud_dirty = 1;
    }
    if (state == ST_PLAY && prog_cells < HUD_CELLS && px >= prog_next) {
        prog_cells++;
        prog_next += prog_step;
        hud_dirty = 1;
    }
}

static void dying_update(void)
{
    int8_t t, dy;
    if (death_cause == 1 && py < 200) {
        /* hit by an enemy: freeze, pop up, then fall through the floor */
        if (timer == DYING_FRAMES - 20)
            pvy = -DEATH_POP;
        if (timer < DYING_FRAMES - 20 && py < 160) {
            t = (int8_t)(py_sub + pvy);
            dy = t >> 4;
            py_sub = (uint8_t)t & 15;
            py += dy;
            if (pvy < MAX_FALL)
                pvy += GRAVITY;
        }
    }
    if (--timer == 0) {
        if (lives == 0)
            enter_end_screen(ST_GAMEOVER, "GAME OVER", GAMEOVER_FRAMES);
        else
            start_level(0);
    }
}

static void clear_update(void)
{
    /* celebrate with small hops */
    uint8_t ph = timer & 15;
    uint8_t hop = ph < 8 ? ph : 15 - ph;
    py = clear_base_y - hop;
    if (--timer == 0) {
        if (pub_level + 1 < N_LEVELS) {
            pub_level++;
            start_level(1);
        } else {
            enter_end_screen(ST_WIN, "YOU WIN! ", WIN_FRAMES);
        }
    }
}

static void title_update(void)
{
    uint8_t lv = pub_level;
    if (lv >= N_LEVELS) {
        lv = N_LEVELS - 1;
        pub_level = lv;
    }
    if (pressed & K_UP) {
        lv = lv + 1 < N_LEVELS ? lv + 1 : 0;
        pub_level = lv;
    } else if (pressed & K_DOWN) {
        lv = lv ? lv - 1 : N_LEVELS - 1;
        pub_level = lv;
    }
    if (lv != title_shown && !patch_len && !patch2_len) {
        static const char sel[] = "< LEVEL 1 >";
        center_text(patch_buf, sel, 0);
        patch_buf[4 + 8] = '1' + lv;
        patch_dst = (uint16_t)VRAM_BG + (7 << 5);
        patch_len = 20;
        center_text(patch2_buf, levels[lv].label, 0);
        patch2_dst = (uint16_t)VRAM_BG + (8 << 5);
        patch2_len = 20;
        title_shown = lv;
    }
    if (pressed & K_START)
        new_game();
}

/* Title decoration: the hero and an enemy on the ground strip. */
static void title_sprites(void)
{
    hide_sprites();
    set_sprite(0, 112, 40, S_HEAD, 0);
    set_sprite(1, 120, 40, (frame & 16) ? S_STAND : S_WALK1, 0);
    set_sprite(2, 120, 112, (frame & 8) ? S_ENEMY1 : S_ENEMY2, 0x20);
}

/* ======================================================================== */
/* Start-up                                                                  */
/* ======================================================================== */

static void load_tiles(void)
{
    uint8_t i, j, *dst;
    uint16_t n;
    const uint8_t *src;

    vram_copy(VRAM_TILES, gfx_tiles, N_GFX_TILES * 16);
    /* edge variants of the grass and dirt tiles: a black column left/right */
    for (i = 1; i < 4; i++) {
        uint8_t mask = (uint8_t)(((i & 1) ? 0x80 : 0) | ((i & 2) ? 0x01 : 0));
        for (j = 0; j < 16; j++) {
            VRAM_TILES[((T_TOP + i) << 4) + j] = gfx_tiles[(T_TOP << 4) + j] | mask;
            VRAM_TILES[((T_DIRT + i) << 4) + j] = gfx_tiles[(T_DIRT << 4) + j] | mask;
        }
    }
    /* font, twice: black on white (tiles 32..95), white on black (128..191) */
    src = font_1bpp;
    dst = VRAM_TILES + (FONT_FIRST << 4);
    for (n = 0; n < 64 * 8; n++) {
        dst[0] = *src;
        dst[1] = *src;
        dst[(96 << 4) + 0] = (uint8_t)~*src;
        dst[(96 << 4) + 1] = (uint8_t)~*src;
        dst += 2;
        src++;
    }
}

void main(void)
{
    rIE = 0;
    lcd_off();
    rNR52 = 0; /* no sound */
    load_tiles();
    vram_fill(OAM, 0, 160);
    vram_fill(VRAM_WIN, HUD_CHAR(' '), 32);
    rBGP = 0xE4;  /* 0 white, 1 light grey, 2 dark grey, 3 black */
    rOBP0 = 0xE4;
    rOBP1 = 0xE4;
    rSCY = 0;
    rSCX = 0;
    rWY = GROUND_BOTTOM;
    rWX = 7;

    magic = 0x48;
    n_levels = N_LEVELS;
    ram_version = 1;
    enter_title();

    rIF = 0;
    rIE = 0x01; /* v-blank only */
    __asm__("ei");

    for (;;) {
        wait_vblank();
        read_keys();
        vblank_work();
        snapshot();
        frame++;

        switch (state) {
        case ST_TITLE:
            title_update();
            break;
        case ST_PLAY:
            play_update();
            break;
        case ST_DYING:
            dying_update();
            break;
        case ST_CLEAR:
            clear_update();
            break;
        default: /* game over, you win */
            if ((pressed & K_START) || --timer == 0)
                enter_title();
            break;
        }
        if (hud_dirty && !patch_len && (state == ST_PLAY || state == ST_DYING || state == ST_CLEAR))
            hud_request();
        if (state == ST_TITLE) {
            title_sprites();
        } else {
            if (state == ST_PLAY || state == ST_CLEAR)
                update_published();
            build_oam();
        }
    }
}
