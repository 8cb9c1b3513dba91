// The smallest HotPocket contract: it does nothing with its round.
const HotPocket = require('hotpocket-nodejs-contract');

new HotPocket.Contract().init(async ctx => { });
