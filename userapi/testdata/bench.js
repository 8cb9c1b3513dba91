// Measures the real hotpocket-js-client@0.5.7 against a userapi server whose Backend closes a
// ledger as soon as inputs are pending (bench_test.go BenchmarkRealJSClient): the user server's
// share of the submit → accepted and submit → output latencies, and a burst's inputs per second.
// Usage: node bench.js URL SERVER_KEY_HEX PROTOCOL SEQUENTIAL BURST
// Prints one JSON line: {acceptedMedianMs, outputMedianMs, burst, burstSeconds, burstInputsPerSec}.
const HotPocket = require('hotpocket-js-client');

const [url, serverKey, protocol, seqArg, burstArg] = process.argv.slice(2);
const sequential = parseInt(seqArg, 10);
const burst = parseInt(burstArg, 10);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const text = (v) => (typeof v === 'string' ? v : Buffer.from(v).toString());

async function main() {
    HotPocket.setLogLevel(1);
    const keys = await HotPocket.generateKeys();
    const client = await HotPocket.createClient([url], keys, { protocol, trustedServerKeys: [serverKey] });
    const waiting = new Map(); // output text → resolve
    let outputs = 0;
    client.on(HotPocket.events.contractOutput, (r) => {
        for (const o of r.outputs) {
            outputs++;
            const w = waiting.get(text(o));
            if (w) { waiting.delete(text(o)); w(); }
        }
    });
    if (!await client.connect()) throw new Error('connect');
    const lcl = (await client.getLcl()).ledgerSeqNo;
    let nonce = Date.now();

    const acc = [], out = [];
    for (let i = 0; i < sequential; i++) {
        const input = 'seq-' + i;
        const gotOutput = new Promise(r => waiting.set('echo:' + input, r));
        const t0 = process.hrtime.bigint();
        // isOffset=false with an explicit max ledger: one message per input, as a busy app sends.
        const s = await client.submitContractInput(input, ++nonce, lcl + 1000000, false);
        const st = await s.submissionStatus;
        if (st.status !== 'accepted') throw new Error('status ' + JSON.stringify(st));
        const t1 = process.hrtime.bigint();
        await gotOutput;
        const t2 = process.hrtime.bigint();
        acc.push(Number(t1 - t0) / 1e6);
        out.push(Number(t2 - t0) / 1e6);
    }

    const before = outputs;
    const t0 = process.hrtime.bigint();
    const subs = [];
    for (let i = 0; i < burst; i++)
        subs.push(client.submitContractInput('burst-' + i, ++nonce, lcl + 1000000, false));
    const sts = await Promise.all((await Promise.all(subs)).map(s => s.submissionStatus));
    const t1 = process.hrtime.bigint();
    const bad = sts.filter(s => s.status !== 'accepted');
    if (bad.length) throw new Error(bad.length + ' burst inputs not accepted: ' + JSON.stringify(bad[0]));
    const deadline = Date.now() + 120000;
    while (outputs - before < burst && Date.now() < deadline) await new Promise(r => setTimeout(r, 10));
    if (outputs - before < burst) throw new Error('burst outputs ' + (outputs - before));
    const secs = Number(t1 - t0) / 1e9;
    await client.close();
    console.log(JSON.stringify({
        acceptedMedianMs: median(acc), outputMedianMs: median(out),
        burst, burstSeconds: secs, burstInputsPerSec: burst / secs,
    }));
    process.exit(0);
}

main().catch(e => { console.error(e && e.stack || e); process.exit(1); });
