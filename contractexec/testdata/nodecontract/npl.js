// A HotPocket NPL contract: every node sends one message to the UNL and waits for one message from
// each UNL member, then reports what it got. Like HotPocket NPL contracts, it asks the library to
// terminate the process (forceTerminate): the library's NPL read stream keeps node alive otherwise.
const HotPocket = require('hotpocket-nodejs-contract');

async function contract(ctx) {
    const want = ctx.unl.count();
    const got = [];
    const done = new Promise(resolve => {
        ctx.unl.onMessage((node, data) => {
            got.push([node.publicKey, data.toString()]);
            if (got.length >= want) resolve();
        });
    });
    await ctx.unl.send('npl from ' + ctx.publicKey);
    await done;
    got.sort();
    for (const user of ctx.users.list())
        await user.send({ npl: got });
}

const hpc = new HotPocket.Contract();
hpc.init(contract, HotPocket.clientProtocols.json, true);
