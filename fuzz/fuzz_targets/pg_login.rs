//! The PostgreSQL login path of `acrm serve` (SSL negotiation, startup packet, SASL and
//! SCRAM messages) over TCP, as any client could send it ([`acrm_fuzz::login`]).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // The sample warehouse is built and the server started before the first input (the
    // build takes longer than an input may).
    init: acrm_fuzz::login::start(),
    |data: &[u8]| acrm_fuzz::login::connect_and_send(data)
);
