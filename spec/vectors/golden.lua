-- Golden SMPP 3.4 PDU vectors, written by hand from the docs/smpp34 reference tables
-- (smpp34-reference.md sections 1-5 and the 3.17 worked examples), not by any project encoder.
-- Entry: { name = text, hex = one whole PDU in uppercase hex, pdu = expected decoded table }.

return {
    -- ---- header-only PDUs (3.4, 1.9) -----------------------------------------------------------
    {
        name = "enquire_link seq 1 (1.9)",
        hex = "00000010000000150000000000000001",
        pdu = {
            command = "enquire_link", command_id = 0x00000015,
            command_status = 0, sequence_number = 1,
        },
    },
    {
        name = "enquire_link_resp seq 1 (1.9)",
        hex = "00000010800000150000000000000001",
        pdu = {
            command = "enquire_link_resp", command_id = 0x80000015,
            command_status = 0, sequence_number = 1,
        },
    },
    {
        name = "generic_nack ESME_RINVCMDID seq 7 (1.9)",
        hex = "00000010800000000000000300000007",
        pdu = {
            command = "generic_nack", command_id = 0x80000000,
            command_status = 0x03, sequence_number = 7,
        },
    },
    {
        name = "unbind seq 18",
        hex = "00000010000000060000000000000012",
        pdu = {
            command = "unbind", command_id = 0x00000006,
            command_status = 0, sequence_number = 18,
        },
    },
    {
        name = "unbind_resp seq 18",
        hex = "00000010800000060000000000000012",
        pdu = {
            command = "unbind_resp", command_id = 0x80000006,
            command_status = 0, sequence_number = 18,
        },
    },

    -- ---- binds (3.1, 3.2, 3.3) -----------------------------------------------------------------
    {
        name = "bind_transceiver esme01/secret (3.17)",
        hex = "0000002300000009000000000000000165736D65303100736563726574000034000000",
        pdu = {
            command = "bind_transceiver", command_id = 0x00000009,
            command_status = 0, sequence_number = 1,
            system_id = "esme01", password = "secret", system_type = "",
            interface_version = 0x34, addr_ton = 0, addr_npi = 0, address_range = "",
        },
    },
    {
        name = "bind_transceiver_resp SMSC with sc_interface_version 0x34 (3.17)",
        hex = "0000001A800000090000000000000001534D5343000210000134",
        pdu = {
            command = "bind_transceiver_resp", command_id = 0x80000009,
            command_status = 0, sequence_number = 1,
            system_id = "SMSC",
            sc_interface_version = 0x34,
        },
    },
    {
        name = "bind_transceiver_resp ESME_RBINDFAIL, no body (3.17)",
        hex = "00000010800000090000000D00000001",
        pdu = {
            command = "bind_transceiver_resp", command_id = 0x80000009,
            command_status = 0x0D, sequence_number = 1,
        },
    },
    {
        name = "bind_transmitter with system_type VMA, TON/NPI 1/1 and address_range",
        hex = "0000002F00000002000000000000000167775F74785F3031007034737300564D41003401015E343437373030393000",
        pdu = {
            command = "bind_transmitter", command_id = 0x00000002,
            command_status = 0, sequence_number = 1,
            system_id = "gw_tx_01", password = "p4ss", system_type = "VMA",
            interface_version = 0x34, addr_ton = 1, addr_npi = 1, address_range = "^44770090",
        },
    },
    {
        name = "bind_transmitter_resp SMSC-A without TLV",
        hex = "00000017800000020000000000000001534D53432D4100",
        pdu = {
            command = "bind_transmitter_resp", command_id = 0x80000002,
            command_status = 0, sequence_number = 1,
            system_id = "SMSC-A",
        },
    },
    {
        name = "bind_receiver with 8-char password (max 9 incl NUL)",
        hex = "0000002700000001000000000000000167775F72785F3031003132333435363738000034000000",
        pdu = {
            command = "bind_receiver", command_id = 0x00000001,
            command_status = 0, sequence_number = 1,
            system_id = "gw_rx_01", password = "12345678", system_type = "",
            interface_version = 0x34, addr_ton = 0, addr_npi = 0, address_range = "",
        },
    },
    {
        name = "bind_receiver_resp SMSC-A with sc_interface_version 0x34",
        hex = "0000001C800000010000000000000001534D53432D41000210000134",
        pdu = {
            command = "bind_receiver_resp", command_id = 0x80000001,
            command_status = 0, sequence_number = 1,
            system_id = "SMSC-A",
            sc_interface_version = 0x34,
        },
    },
    {
        name = "outbind SMSC/pw123",
        hex = "0000001B0000000B0000000000000001534D534300707731323300",
        pdu = {
            command = "outbind", command_id = 0x0000000B, command_status = 0, sequence_number = 1,
            system_id = "SMSC", password = "pw123",
        },
    },

    -- ---- submit_sm / deliver_sm (3.5, 3.6) -----------------------------------------------------
    {
        name = "submit_sm INFO -> 447700900123 Hello (3.17)",
        hex = "00000036000000040000000000000002000500494E464F000101343437373030393030313233000000000000010000000548656C6C6F",
        pdu = {
            command = "submit_sm", command_id = 0x00000004, command_status = 0, sequence_number = 2,
            service_type = "",
            source_addr_ton = 5, source_addr_npi = 0, source_addr = "INFO",
            dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900123",
            esm_class = 0, protocol_id = 0, priority_flag = 0,
            schedule_delivery_time = "", validity_period = "",
            registered_delivery = 1, replace_if_present_flag = 0,
            data_coding = 0, sm_default_msg_id = 0,
            sm_length = 5, short_message = "Hello",
        },
    },
    {
        name = "submit_sm_resp message_id 1A2B3C (3.17)",
        hex = "0000001780000004000000000000000231413242334300",
        pdu = {
            command = "submit_sm_resp", command_id = 0x80000004,
            command_status = 0, sequence_number = 2,
            message_id = "1A2B3C",
        },
    },
    {
        name = "submit_sm with validity_period, user_message_reference and 3 SAR TLVs",
        hex = "00000082000000040000000000000003434D5400010134343737303039303030303100010134343737303039303031323300000001003235303630313132303030303030302B0001000000204D6565742061742031303A33302C206761746520420A287061727420312F3229020400021234020C0002004A020E000102020F000101",
        pdu = {
            command = "submit_sm", command_id = 0x00000004, command_status = 0, sequence_number = 3,
            service_type = "CMT",
            source_addr_ton = 1, source_addr_npi = 1, source_addr = "447700900001",
            dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900123",
            esm_class = 0, protocol_id = 0, priority_flag = 1,
            schedule_delivery_time = "", validity_period = "250601120000000+",
            registered_delivery = 1, replace_if_present_flag = 0,
            data_coding = 0, sm_default_msg_id = 0,
            sm_length = 32, short_message = "Meet at 10:30, gate B\10(part 1/2)",
            user_message_reference = 0x1234,
            sar_msg_ref_num = 0x004A,
            sar_total_segments = 2,
            sar_segment_seqnum = 1,
        },
    },
    {
        name = "submit_sm with known TLVs, alert_on_message_delivery and vendor TLV 0x1401",
        hex = "00000053000000040000000000000005000101343437373030393030303031000101343437373030393030313233000000000000000000000470696E670204000200070426000101130C000014010003010203",
        pdu = {
            command = "submit_sm", command_id = 0x00000004, command_status = 0, sequence_number = 5,
            service_type = "",
            source_addr_ton = 1, source_addr_npi = 1, source_addr = "447700900001",
            dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900123",
            esm_class = 0, protocol_id = 0, priority_flag = 0,
            schedule_delivery_time = "", validity_period = "",
            registered_delivery = 0, replace_if_present_flag = 0,
            data_coding = 0, sm_default_msg_id = 0,
            sm_length = 4, short_message = "ping",
            user_message_reference = 7,
            more_messages_to_send = 1,
            alert_on_message_delivery = true,
            [0x1401] = "\1\2\3",
        },
    },
    {
        name = "submit_sm UCS2 text in message_payload, sm_length 0",
        hex = "0000004500000004000000000000000600010134343737303039303030303100010134343737303039303031323300000000000000000800000424000800480069002020AC",
        pdu = {
            command = "submit_sm", command_id = 0x00000004, command_status = 0, sequence_number = 6,
            service_type = "",
            source_addr_ton = 1, source_addr_npi = 1, source_addr = "447700900001",
            dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900123",
            esm_class = 0, protocol_id = 0, priority_flag = 0,
            schedule_delivery_time = "", validity_period = "",
            registered_delivery = 0, replace_if_present_flag = 0,
            data_coding = 8, sm_default_msg_id = 0,
            sm_length = 0, short_message = "",
            message_payload = "\0H\0i\0 \32\172",
        },
    },
    {
        name = "submit_sm_resp ESME_RTHROTTLED, no body",
        hex = "00000010800000040000005800000004",
        pdu = {
            command = "submit_sm_resp", command_id = 0x80000004,
            command_status = 0x58, sequence_number = 4,
        },
    },
    {
        name = "deliver_sm delivery receipt with receipted_message_id and message_state (3.17)",
        hex = "000000AC000000050000000000000009000101343437373030393030313233000500494E464F000400000000000000006B69643A30303031373135303034207375623A30303120646C7672643A303031207375626D697420646174653A3235303133313132303020646F6E6520646174653A3235303133313132303120737461743A44454C49565244206572723A30303020746578743A48656C6C6F001E0007314132423343000427000102",
        pdu = {
            command = "deliver_sm", command_id = 0x00000005,
            command_status = 0, sequence_number = 9,
            service_type = "",
            source_addr_ton = 1, source_addr_npi = 1, source_addr = "447700900123",
            dest_addr_ton = 5, dest_addr_npi = 0, destination_addr = "INFO",
            esm_class = 0x04, protocol_id = 0, priority_flag = 0,
            schedule_delivery_time = "", validity_period = "",
            registered_delivery = 0, replace_if_present_flag = 0,
            data_coding = 0, sm_default_msg_id = 0,
            sm_length = 107,
            short_message = "id:0001715004 sub:001 dlvrd:001 submit date:2501311200"
                .. " done date:2501311201 stat:DELIVRD err:000 text:Hello",
            receipted_message_id = "1A2B3C",
            message_state = 2,
        },
    },
    {
        name = "deliver_sm_resp for the receipt, single NUL message_id (3.17)",
        hex = "0000001180000005000000000000000900",
        pdu = {
            command = "deliver_sm_resp", command_id = 0x80000005,
            command_status = 0, sequence_number = 9,
            message_id = "",
        },
    },
    {
        name = "deliver_sm with UDHI and 8-bit concatenation UDH (part 2 of 3, ref 0x4A)",
        hex = "0000004A00000005000000000000000A00010134343737303039303031323300010134343737303039303030303100400000000000000000110500034A03027365636F6E642070617274",
        pdu = {
            command = "deliver_sm", command_id = 0x00000005,
            command_status = 0, sequence_number = 10,
            service_type = "",
            source_addr_ton = 1, source_addr_npi = 1, source_addr = "447700900123",
            dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900001",
            esm_class = 0x40, protocol_id = 0, priority_flag = 0,
            schedule_delivery_time = "", validity_period = "",
            registered_delivery = 0, replace_if_present_flag = 0,
            data_coding = 0, sm_default_msg_id = 0,
            sm_length = 17, short_message = "\5\0\3\74\3\2second part",
        },
    },
    {
        name = "deliver_sm_resp ESME_RX_T_APPN with single NUL message_id (17 octets)",
        hex = "0000001180000005000000640000000A00",
        pdu = {
            command = "deliver_sm_resp", command_id = 0x80000005,
            command_status = 0x64, sequence_number = 10,
            message_id = "",
        },
    },

    -- ---- submit_multi (3.7, 3.8) ---------------------------------------------------------------
    {
        name = "submit_multi to two SME addresses and distribution list friends",
        hex = "0000005F00000021000000000000000B00050041434D450003010101343437373030393030313233000101013434373730303930303435360002667269656E6473000000000000010000000D50617274792061742038706D2102040002002A",
        pdu = {
            command = "submit_multi", command_id = 0x00000021,
            command_status = 0, sequence_number = 11,
            service_type = "",
            source_addr_ton = 5, source_addr_npi = 0, source_addr = "ACME",
            number_of_dests = 3,
            dest_address = {
                { dest_flag = 1, dest_addr_ton = 1, dest_addr_npi = 1,
                  destination_addr = "447700900123" },
                { dest_flag = 1, dest_addr_ton = 1, dest_addr_npi = 1,
                  destination_addr = "447700900456" },
                { dest_flag = 2, dl_name = "friends" },
            },
            esm_class = 0, protocol_id = 0, priority_flag = 0,
            schedule_delivery_time = "", validity_period = "",
            registered_delivery = 1, replace_if_present_flag = 0,
            data_coding = 0, sm_default_msg_id = 0,
            sm_length = 13, short_message = "Party at 8pm!",
            user_message_reference = 42,
        },
    },
    {
        name = "submit_multi_resp with 2 unsuccess_sme (ESME_RINVDSTADR, ESME_RSUBMITFAIL)",
        hex = "0000004180000021000000000000000B4D4D2D37374141303100020101343437373030393030343536000000000B01013434373730303930303132330000000045",
        pdu = {
            command = "submit_multi_resp", command_id = 0x80000021,
            command_status = 0, sequence_number = 11,
            message_id = "MM-77AA01",
            no_unsuccess = 2,
            unsuccess_sme = {
                { dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900456",
                  error_status_code = 0x0B },
                { dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900123",
                  error_status_code = 0x45 },
            },
        },
    },

    -- ---- data_sm (3.9, 3.10) -------------------------------------------------------------------
    {
        name = "data_sm WAP push: source_port, destination_port, binary message_payload",
        hex = "0000005000000103000000000000001557415000010134343737303039303030303100010134343737303039303031323300000004020A000223F0020B00020B840424000B01060403AE81EA00574150",
        pdu = {
            command = "data_sm", command_id = 0x00000103, command_status = 0, sequence_number = 21,
            service_type = "WAP",
            source_addr_ton = 1, source_addr_npi = 1, source_addr = "447700900001",
            dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900123",
            esm_class = 0, registered_delivery = 0, data_coding = 4,
            source_port = 9200,
            destination_port = 2948,
            message_payload = "\1\6\4\3\174\129\234\0WAP",
        },
    },
    {
        name = "data_sm receipt with 64-char source_addr, network_error_code, seq 0x7FFFFFFF",
        hex = "0000008300000103000000007FFFFFFF0000003132333435363738393031323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333400010134343737303039303031323300040000001E000D30413142324333443445354600042300030300010427000105",
        pdu = {
            command = "data_sm", command_id = 0x00000103,
            command_status = 0, sequence_number = 0x7FFFFFFF,
            service_type = "",
            source_addr_ton = 0, source_addr_npi = 0,
            source_addr = "1234567890123456789012345678901234567890123456789012345678901234",
            dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900123",
            esm_class = 0x04, registered_delivery = 0, data_coding = 0,
            receipted_message_id = "0A1B2C3D4E5F",
            network_error_code = "\3\0\1",
            message_state = 5,
        },
    },
    {
        name = "data_sm_resp message_id DS-000123",
        hex = "0000001A80000103000000000000001544532D30303031323300",
        pdu = {
            command = "data_sm_resp", command_id = 0x80000103,
            command_status = 0, sequence_number = 21,
            message_id = "DS-000123",
        },
    },
    {
        name = "data_sm_resp ESME_RDELIVERYFAILURE, empty message_id, 3 TLVs",
        hex = "0000003380000103000000FE0000001600001D00125375627363726962657220616273656E74000423000303001B0425000100",
        pdu = {
            command = "data_sm_resp", command_id = 0x80000103,
            command_status = 0xFE, sequence_number = 22,
            message_id = "",
            additional_status_info_text = "Subscriber absent",
            network_error_code = "\3\0\27",
            delivery_failure_reason = 0,
        },
    },

    -- ---- query / cancel / replace (3.11-3.13) --------------------------------------------------
    {
        name = "query_sm 1A2B3C from INFO",
        hex = "0000001E00000003000000000000000C314132423343000500494E464F00",
        pdu = {
            command = "query_sm", command_id = 0x00000003, command_status = 0, sequence_number = 12,
            message_id = "1A2B3C",
            source_addr_ton = 5, source_addr_npi = 0, source_addr = "INFO",
        },
    },
    {
        name = "query_sm_resp DELIVERED with final_date",
        hex = "0000002A80000003000000000000000C314132423343003235303133313132303130303030302B000200",
        pdu = {
            command = "query_sm_resp", command_id = 0x80000003,
            command_status = 0, sequence_number = 12,
            message_id = "1A2B3C", final_date = "250131120100000+",
            message_state = 2, error_code = 0,
        },
    },
    {
        name = "query_sm_resp ENROUTE with NULL final_date",
        hex = "0000001A80000003000000000000000D31413242334400000100",
        pdu = {
            command = "query_sm_resp", command_id = 0x80000003,
            command_status = 0, sequence_number = 13,
            message_id = "1A2B3D", final_date = "", message_state = 1, error_code = 0,
        },
    },
    {
        name = "cancel_sm 1A2B3C INFO -> 447700900123",
        hex = "0000002E00000008000000000000000E00314132423343000500494E464F00010134343737303039303031323300",
        pdu = {
            command = "cancel_sm", command_id = 0x00000008,
            command_status = 0, sequence_number = 14,
            service_type = "", message_id = "1A2B3C",
            source_addr_ton = 5, source_addr_npi = 0, source_addr = "INFO",
            dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900123",
        },
    },
    {
        name = "cancel_sm_resp ok",
        hex = "0000001080000008000000000000000E",
        pdu = {
            command = "cancel_sm_resp", command_id = 0x80000008,
            command_status = 0, sequence_number = 14,
        },
    },
    {
        name = "replace_sm 1A2B3C with new validity_period and text",
        hex = "0000003E00000007000000000000000F314132423343000500494E464F00003235303630323030303030303030302B0001000B48656C6C6F20616761696E",
        pdu = {
            command = "replace_sm", command_id = 0x00000007,
            command_status = 0, sequence_number = 15,
            message_id = "1A2B3C",
            source_addr_ton = 5, source_addr_npi = 0, source_addr = "INFO",
            schedule_delivery_time = "", validity_period = "250602000000000+",
            registered_delivery = 1, sm_default_msg_id = 0,
            sm_length = 11, short_message = "Hello again",
        },
    },
    {
        name = "replace_sm_resp ok",
        hex = "0000001080000007000000000000000F",
        pdu = {
            command = "replace_sm_resp", command_id = 0x80000007,
            command_status = 0, sequence_number = 15,
        },
    },
    {
        name = "replace_sm_resp ESME_RREPLACEFAIL",
        hex = "00000010800000070000001300000010",
        pdu = {
            command = "replace_sm_resp", command_id = 0x80000007,
            command_status = 0x13, sequence_number = 16,
        },
    },

    -- ---- alert_notification (3.14) -------------------------------------------------------------
    {
        name = "alert_notification with ms_availability_status 0",
        hex = "000000330000010200000000000000110101343437373030393030313233000101343437373030393030303031000422000100",
        pdu = {
            command = "alert_notification", command_id = 0x00000102,
            command_status = 0, sequence_number = 17,
            source_addr_ton = 1, source_addr_npi = 1, source_addr = "447700900123",
            esme_addr_ton = 1, esme_addr_npi = 1, esme_addr = "447700900001",
            ms_availability_status = 0,
        },
    },
}
