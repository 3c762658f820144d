// The coach's report: the page is drawn by the server (web/api_report.py); here only the bar's
// connection and the fall alarm (as on every page) and the print button.

import { startPanel } from './panel.js';

const print = document.getElementById('print-report');
if (print) print.addEventListener('click', () => window.print());
startPanel();
