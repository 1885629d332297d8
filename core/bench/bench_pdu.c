/* bench_pdu.c -- ns per decode and per encode of a typical submit_sm (about
 * 20 fields, 2 TLVs, a 140-octet message) and of a deliver_sm receipt,
 * beside a baseline measured in the same run: copying the PDU's bytes and
 * summing them (the least any codec must do: touch every octet once).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pdu.h"

#define ITER 2000000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static pdu_t p;
static uint8_t wire[512], out[512], copy[512];
static volatile uint32_t sink;

static long build_submit_sm(void)
{
    static const char msg[] =
        "Your verification code is 482913. It expires in 10 minutes. Do not share this code "
        "with anyone; our staff will never ask you for it. Msg&data rates apply.";
    pdu_error_t err;
    pdu_init(&p, SMPP_SUBMIT_SM, 12345);
    pdu_set_cstr(&p, PDU_F_SERVICE_TYPE, "CMT");
    pdu_set_int(&p, PDU_F_SOURCE_ADDR_TON, 5);
    pdu_set_cstr(&p, PDU_F_SOURCE_ADDR, "MyBank");
    pdu_set_int(&p, PDU_F_DEST_ADDR_TON, 1);
    pdu_set_int(&p, PDU_F_DEST_ADDR_NPI, 1);
    pdu_set_cstr(&p, PDU_F_DESTINATION_ADDR, "447700900123");
    pdu_set_cstr(&p, PDU_F_VALIDITY_PERIOD, "000001000000000R");
    pdu_set_int(&p, PDU_F_REGISTERED_DELIVERY, 1);
    pdu_set_str(&p, PDU_F_SHORT_MESSAGE, (const uint8_t *)msg, 140);
    pdu_tlv_add_int(&p, SMPP_TLV_user_message_reference, 77);
    pdu_tlv_add_int(&p, SMPP_TLV_source_port, 9200);
    return pdu_encode(&p, wire, sizeof wire, &err);
}

static long build_receipt(void)
{
    static const char text[] = "id:0001715004 sub:001 dlvrd:001 submit date:2501311200 "
                               "done date:2501311201 stat:DELIVRD err:000 text:Hello";
    pdu_error_t err;
    pdu_init(&p, SMPP_DELIVER_SM, 9);
    pdu_set_int(&p, PDU_F_SOURCE_ADDR_TON, 1);
    pdu_set_int(&p, PDU_F_SOURCE_ADDR_NPI, 1);
    pdu_set_cstr(&p, PDU_F_SOURCE_ADDR, "447700900123");
    pdu_set_int(&p, PDU_F_DEST_ADDR_TON, 5);
    pdu_set_cstr(&p, PDU_F_DESTINATION_ADDR, "MyBank");
    pdu_set_int(&p, PDU_F_ESM_CLASS, 4);
    pdu_set_cstr(&p, PDU_F_SHORT_MESSAGE, text);
    pdu_tlv_add(&p, SMPP_TLV_receipted_message_id, (const uint8_t *)"1A2B3C", 7);
    pdu_tlv_add_int(&p, SMPP_TLV_message_state, 2);
    return pdu_encode(&p, wire, sizeof wire, &err);
}

static void bench(const char *name, long len)
{
    double t0, base, dec, enc, both;
    int i;
    uint32_t s = 0;
    pdu_error_t err;

    t0 = now_ns();
    for (i = 0; i < ITER; i++) {
        long j;
        memcpy(copy, wire, (size_t)len);
        for (j = 0; j < len; j++) s += copy[j];
        __asm__ volatile("" ::: "memory");
    }
    base = (now_ns() - t0) / ITER;
    sink = s;

    t0 = now_ns();
    for (i = 0; i < ITER; i++) s += pdu_decode(&p, wire, (size_t)len, 0, &err);
    dec = (now_ns() - t0) / ITER;

    t0 = now_ns();
    for (i = 0; i < ITER; i++) s += (uint32_t)pdu_encode(&p, out, sizeof out, &err);
    enc = (now_ns() - t0) / ITER;

    t0 = now_ns();
    for (i = 0; i < ITER; i++) {
        s += pdu_decode(&p, wire, (size_t)len, 0, &err);
        s += (uint32_t)pdu_encode(&p, out, sizeof out, &err);
    }
    both = (now_ns() - t0) / ITER;
    sink = s;
    if (memcmp(out, wire, (size_t)len) != 0) printf("  (re-encode differs!)\n");

    printf("%-26s %3ld octets  baseline %6.1f ns  decode %6.1f ns (%4.1fx)  "
           "encode %6.1f ns (%4.1fx)  decode+encode %6.1f ns (%4.1fx)\n",
           name, len, base, dec, dec / base, enc, enc / base, both, both / base);
}

int main(void)
{
    long n = build_submit_sm();
    if (n < 0) return 1;
    bench("submit_sm (140 B, 2 TLVs)", n);
    n = build_receipt();
    if (n < 0) return 1;
    bench("deliver_sm receipt", n);
    return 0;
}
