// Prints what the native addon detected on this machine.
// Run from the repo after `npm install`: node examples/native-info.mjs
import { nativeInfo } from 'tessera';

const info = nativeInfo();
console.log(`tessera ${info.version} (Node-API ${info.napiVersion})`);
console.log(`CPU features: ${info.cpuFeatures.join(', ') || 'none'}`);
