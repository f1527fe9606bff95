/**
 * The Store API contract on the reference model engine: checks the public
 * classes (validation, streams, paging, abort, close) and the model itself,
 * which later serves as the oracle for the native engine.
 */
import { Store } from '../lib/store/store';
import { ModelEngine } from './support/model_engine';
import { storeContract } from './support/store_contract';

storeContract('reference model', async () => new Store(new ModelEngine()));
