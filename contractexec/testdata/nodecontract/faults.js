// A HotPocket contract with a fault, selected by its first argument (patch.cfg bin_args).
const HotPocket = require('hotpocket-nodejs-contract');

async function contract(ctx) {
    switch (process.argv[2]) {
        case 'throw':
            // An exception outside the library's error handler ends the process.
            setImmediate(() => { throw new Error('contract bug'); });
            break;
        case 'loop':
            for (;;) { }
        case 'alloc': {
            const keep = [];
            for (;;) keep.push(Buffer.alloc(16 << 20, 1));
        }
    }
}

new HotPocket.Contract().init(contract);
