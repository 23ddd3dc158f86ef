        .module crt0
        .globl  _main
        .globl  _vbl_flag
        .area   _HEADER (ABS)
        .org    0x00
        ret
        .org    0x40
        jp      vbl_isr
        .org    0x48
        reti
        .org    0x50
        reti
        .org    0x58
        reti
        .org    0x60
        reti
        .org    0x100
        nop
        jp      init
        .org    0x150
init:
        di
        ld      sp, #0xE000
        ld      hl, #0xC000
        ld      bc, #0x2000
1$:     xor     a
        ld      (hl+), a
        dec     bc
        ld      a, b
        or      c
        jr      nz, 1$
        call    gsinit
        call    _main
2$:     halt
        nop
        jr      2$
vbl_isr:
        push    af
        ld      a, #1
        ld      (_vbl_flag), a
        pop     af
        reti

        .area   _HOME
        .area   _CODE
        .area   _INITIALIZER
        .area   _GSINIT
        .area   _GSFINAL
        .area   _DATA
        .area   _INITIALIZED
        .area   _BSEG
        .area   _BSS
        .area   _HEAP

        .area   _GSINIT
gsinit::
        ld      de, #s__INITIALIZED
        ld      hl, #s__INITIALIZER
        ld      bc, #l__INITIALIZER
3$:     ld      a, b
        or      c
        jr      z, 4$
        ld      a, (hl+)
        ld      (de), a
        inc     de
        dec     bc
        jr      3$
4$:
        .area   _GSFINAL
        ret
