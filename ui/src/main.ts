// The app's entry: the shipped Japanese font, the styles, the Tauri backend, and the root.
import '@fontsource/noto-sans-jp/400.css';
import '@fontsource/noto-sans-jp/700.css';
import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { setBackend } from './lib/api/backend';
import { tauriBackend } from './lib/api/tauri';
import { watchLocked } from './lib/session.svelte';

setBackend(watchLocked(tauriBackend()));

const target = document.getElementById('app');
if (!target) throw new Error('#app is missing from index.html');
mount(App, { target });
