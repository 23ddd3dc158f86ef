;; Hopland v-blank work, in assembly because it must fit in v-blank
;; (10 lines = 1140 M-cycles): sprites, scroll, the RAM-map snapshot copied
;; to the published block, then one map column or one text patch (about
;; 680 M-cycles in all, so it ends around LY 150).
;; Every register may be clobbered (sdcc's sm83 convention saves none).
;; Text patches are always 20 bytes (patch_len is a flag).

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

        ;; publish: SNAP -> PUB, skipping LEVEL (0xC002) and SEED (0xC010-11),
        ;; which the host owns on the title screen. Done early, so it is
        ;; always complete long before v-blank ends (PyBoy's tick() returns
        ;; when LY wraps from 153 to 0).
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
        .rept   64              ; 0xC020..0xC05F
        COPYB
        .endm

        ;; then at most one piece of map work per frame: a streamed column
        ;; (17 tiles, 32 bytes apart) or else one 20-byte text patch; what
        ;; is not done now stays queued for the next v-blank
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
        jp      work_done
no_column:
        ld      a, (_patch_len)
        or      a
        jr      z, no_patch
        xor     a
        ld      (_patch_len), a
        ld      a, (_patch_dst)
        ld      e, a
        ld      a, (_patch_dst + 1)
        ld      d, a
        ld      hl, #_patch_buf
        .rept   20
        ld      a, (hl+)
        ld      (de), a
        inc     de
        .endm
        jp      work_done
no_patch:
        ld      a, (_patch2_len)
        or      a
        jp      z, work_done
        xor     a
        ld      (_patch2_len), a
        ld      a, (_patch2_dst)
        ld      e, a
        ld      a, (_patch2_dst + 1)
        ld      d, a
        ld      hl, #_patch2_buf
        .rept   20
        ld      a, (hl+)
        ld      (de), a
        inc     de
        .endm
work_done:

        ;; still in v-blank (LY >= 144)? otherwise count an overrun
        ldh     a, (0x44)
        cp      #144
        ret     nc
        ld      hl, #OVERRUN
        inc     (hl)
        ret

;; LIVE -> SNAP, 0x60 bytes (outside v-blank, timing does not matter)
_snapshot::
        ld      hl, #LIVE
        ld      de, #SNAP
        ld      c, #0x60
snap_loop:
        ld      a, (hl+)
        ld      (de), a
        inc     e
        dec     c
        jr      nz, snap_loop
        ret
