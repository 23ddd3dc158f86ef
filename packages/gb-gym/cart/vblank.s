;; Hopland v-blank work, in assembly because it must fit in v-blank
;; (10 lines = 1140 M-cycles): sprites, scroll, one map column, up to two
;; text patches, then the RAM-map snapshot copied to the published block.
;; Every register may be clobbered (sdcc's sm83 convention saves none).

        .module vblank
        .globl  _vblank_work
        .globl  _snapshot
        .globl  _shadow_oam
        .globl  _scx_shadow
        .globl  _col_pending
        .globl  _col_dst
        .globl  _col_buf
        .globl  _patch_len
        .globl  _patch_dst
        .globl  _patch_buf
        .globl  _patch2_len
        .globl  _patch2_dst
        .globl  _patch2_buf

        PUB     = 0xC000        ; published RAM map (read by the host)
        LIVE    = 0xC100        ; the game's working copy
        SNAP    = 0xC180        ; copy taken after the previous v-blank
        OVERRUN = 0xC146        ; live copy of the overrun counter

        .area   _CODE

;; copy one byte (hl)+ -> (de), advance e (no page crossing in our tables)
        .macro  COPYB
        ld      a, (hl+)
        ld      (de), a
        inc     e
        .endm

_vblank_work::
        ;; sprites: 6 OAM entries (24 bytes)
        ld      hl, #_shadow_oam
        ld      de, #0xFE00
        .rept   24
        COPYB
        .endm

        ;; horizontal scroll
        ld      a, (_scx_shadow)
        ldh     (0x43), a

        ;; one map column: 17 tiles, 32 bytes apart
        ld      a, (_col_pending)
        or      a
        jr      z, no_column
        xor     a
        ld      (_col_pending), a
        ld      a, (_col_dst)
        ld      l, a
        ld      a, (_col_dst + 1)
        ld      h, a
        ld      de, #_col_buf
        ld      bc, #32
        .rept   17
        ld      a, (de)
        inc     de
        ld      (hl), a
        add     hl, bc
        .endm
no_column:

        ;; text patches (HUD row, title lines)
        ld      a, (_patch_len)
        or      a
        jr      z, no_patch
        ld      c, a
        xor     a
        ld      (_patch_len), a
        ld      a, (_patch_dst)
        ld      e, a
        ld      a, (_patch_dst + 1)
        ld      d, a
        ld      hl, #_patch_buf
patch_loop:
        ld      a, (hl+)
        ld      (de), a
        inc     de
        dec     c
        jr      nz, patch_loop
no_patch:
        ld      a, (_patch2_len)
        or      a
        jr      z, no_patch2
        ld      c, a
        xor     a
        ld      (_patch2_len), a
        ld      a, (_patch2_dst)
        ld      e, a
        ld      a, (_patch2_dst + 1)
        ld      d, a
        ld      hl, #_patch2_buf
patch2_loop:
        ld      a, (hl+)
        ld      (de), a
        inc     de
        dec     c
        jr      nz, patch2_loop
no_patch2:

        ;; publish: SNAP -> PUB, skipping LEVEL (0xC002) and SEED (0xC010-11),
        ;; which the host owns on the title screen
        ld      hl, #SNAP
        ld      de, #PUB
        COPYB                   ; 0xC000 magic
        COPYB                   ; 0xC001 state
        inc     l               ; skip 0xC002 level
        inc     e
        .rept   13              ; 0xC003..0xC00F
        COPYB
        .endm
        ld      l, #<(SNAP + 0x20)
        ld      e, #0x20
        .rept   48              ; 0xC020..0xC04F
        COPYB
        .endm

        ;; still in v-blank (LY >= 144)? otherwise count an overrun
        ldh     a, (0x44)
        cp      #144
        ret     nc
        ld      hl, #OVERRUN
        inc     (hl)
        ret

;; LIVE -> SNAP, 0x50 bytes (outside v-blank, timing does not matter)
_snapshot::
        ld      hl, #LIVE
        ld      de, #SNAP
        ld      c, #0x50
snap_loop:
        ld      a, (hl+)
        ld      (de), a
        inc     e
        dec     c
        jr      nz, snap_loop
        ret
