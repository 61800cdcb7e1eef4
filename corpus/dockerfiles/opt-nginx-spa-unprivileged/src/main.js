import { createApp } from 'vue';

createApp({ template: '<h1>All systems go</h1>' }).mount('#app');
